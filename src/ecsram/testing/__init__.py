"""Helpers for testing against a real ecsram: a server process, accounts, official SDK clients."""
