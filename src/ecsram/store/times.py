"""Time formats the cloud uses on the wire."""

from __future__ import annotations

import time

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def iso(epoch_seconds: float) -> str:
    """``2026-01-01T12:00:00Z`` (UTC, whole seconds), the format every response uses."""
    return time.strftime(ISO_SECONDS, time.gmtime(epoch_seconds))
