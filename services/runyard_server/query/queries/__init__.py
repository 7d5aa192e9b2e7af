"""Plain SQL of the query service (it reads; ingest and auth own the writes)."""
