"""Webhooks for agency systems: subscriptions to the portal's events, delivered over HTTPS
per the Standard Webhooks specification (see the contract's Webhooks section)."""
