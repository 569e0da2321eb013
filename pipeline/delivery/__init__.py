"""Delivery: getting an alert step to a receiver (retry with backoff, rate limits, dead letters,
secret redaction) and the receivers themselves (``receivers/``, one module per destination)."""
