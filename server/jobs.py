"""The periodic jobs the background worker runs (each at most once per interval across processes)."""

from __future__ import annotations

from server.background import PeriodicJob

JOBS: list[PeriodicJob] = []
