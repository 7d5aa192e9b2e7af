"""The committed protobuf code in sdk/runyard/v1 is what `make proto` generates from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
            str(ROOT / "proto/runyard/v1/ingest.proto"),
        ],
        check=True,
    )
    for name in ("ingest_pb2.py", "ingest_pb2.pyi", "ingest_pb2_grpc.py"):
        fresh = (tmp_path / "runyard/v1" / name).read_text()
        committed = (ROOT / "sdk/runyard/v1" / name).read_text()
        assert fresh == committed, f"sdk/runyard/v1/{name} is stale: run `make proto` and commit it"
