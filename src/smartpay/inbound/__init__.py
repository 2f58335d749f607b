"""Inbound processor webhooks: ``POST /webhooks/{connector}`` verifies a processor's own
signature and stores each provider event once; the worker (``tasks.process_pending``)
acts on it."""
