"""Ingest: MQTT consumer, verification pipeline, batched ledger writer."""
