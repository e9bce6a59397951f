"""Deliveries of change records (issue 16): e-mail subscriptions, webhooks, the delivery worker."""
