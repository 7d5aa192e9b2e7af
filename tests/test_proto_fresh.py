"""The committed protobuf code in proto/runyard_proto/v1 is what `make proto` generates from the .proto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ROOT / "proto/runyard_proto/v1"


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable, "-m", "grpc_tools.protoc", f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}", f"--pyi_out={tmp_path}", f"--grpc_python_out={tmp_path}",
            str(GENERATED / "ingest.proto"),
        ],
        check=True,
    )
    for name in ("ingest_pb2.py", "ingest_pb2.pyi", "ingest_pb2_grpc.py"):
        fresh = (tmp_path / "runyard_proto/v1" / name).read_text()
        committed = (GENERATED / name).read_text()
        assert fresh == committed, f"proto/runyard_proto/v1/{name} is stale: run `make proto` and commit it"


def test_the_contract_loads_without_the_sdk() -> None:
    """The server depends on runyard-proto, never on the SDK: importing the contract (as ingest does)
    must not import `runyard` and its run machinery (threads, at-fork hooks)."""
    code = (
        "import sys; from runyard_proto.v1 import ingest_pb2, ingest_pb2_grpc; "
        "import runyard_server.ingest.servicer; "
        "leaked = sorted(m for m in sys.modules if m == 'runyard' or m.startswith('runyard.')); "
        "print(leaked); sys.exit(1 if leaked else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "tests")
    assert done.returncode == 0, f"importing ingest loaded the SDK: {done.stdout}{done.stderr}"
