"""A periodic job as data: each domain lists its own in ``<domain>/jobs.py`` (``PERIODIC_JOBS``) and the
background worker (server/background.py) collects them, so no domain imports the worker.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from server.config import Settings

DAY = 24 * 3600.0


@dataclass(frozen=True)
class PeriodicJob:
    """Run at most once per ``interval_seconds`` across all processes (under a key-value lock)."""

    name: str
    interval_seconds: float
    # Called as run(now, settings); `now` is aware UTC.
    run: Callable[[datetime, Settings], Awaitable[object]]
