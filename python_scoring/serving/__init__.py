"""`scorehouse serve`: online scoring over HTTP, and its request log: every request as a
JSON line in a local, append-only spool (`spool`), loaded into ml.online_requests by
`ingest`."""
