"""Generated protobuf code for the ingest contract (`make proto`); never edit by hand."""
