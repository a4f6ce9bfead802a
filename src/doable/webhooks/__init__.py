"""Webhooks: a user's changes, pushed to URLs they name, signed, retried and logged
(docs/api.md, Webhooks). Deliveries are made by the worker (``doable.worker``)."""
