"""runyard-proto: the ingest wire contract shared by the `runyard` SDK and `runyard-server`.

`runyard_proto/v1/ingest.proto` is the only place record shapes are defined; `make proto` regenerates
`ingest_pb2*.py` beside it, and tests/test_proto_fresh.py fails when they are stale. This package
imports nothing but protobuf and grpc, so importing it never loads the SDK's run machinery.
"""

__version__ = "0.1.0"
