"""fieldproof aggregator: ingest, ledger, series, anchoring, rewards, API."""
