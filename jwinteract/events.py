"""Events a Session emits, and the step states it reports.

Widgets, the CLI and tests observe a Session through these events; tests of
the cache assert on them (which steps ran, which were cache hits), never on
timings.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Event", "EventKind", "StepState", "EventLog", "StepStatus"]


class EventKind(StrEnum):
    STAGE_STARTED = "stage_started"
    STAGE_FINISHED = "stage_finished"
    STEP_STARTED = "step_started"
    STEP_FINISHED = "step_finished"
    CACHE_HIT = "cache_hit"
    STEP_SKIPPED = "step_skipped"
    NOT_IMPLEMENTED = "not_implemented"
    STEP_FAILED = "step_failed"
    PROGRESS = "progress"
    PARAMS_CHANGED = "params_changed"
    PRODUCT_WRITTEN = "product_written"


class StepState(StrEnum):
    """What the status table shows for a step.

    fresh: never run and not in the cache. stale: ran, but a parameter, skip
    or reference changed upstream or here since. cached: the result for the
    current settings is in the cache but not yet used in this session.
    done: the current result is in hand (ran or was a cache hit).
    """

    FRESH = "fresh"
    STALE = "stale"
    CACHED = "cached"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_IMPLEMENTED = "not implemented"


@dataclass(frozen=True)
class Event:
    """One thing that happened in a Session."""

    kind: EventKind
    stage: str | None = None
    step: str | None = None
    key: str | None = None
    seconds: float | None = None
    fraction: float | None = None
    message: str = ""
    steps: tuple[str, ...] = ()
    exposure: str | None = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StepStatus:
    """A row of :meth:`Session.status`."""

    stage: str
    step: str
    state: StepState
    seconds: float | None = None
    key: str | None = None
    message: str = ""


class EventLog:
    """Recent events plus the observers to notify.

    Observers are called synchronously on the thread that emits. An observer
    that raises is reported once on the log and removed, so a broken widget
    cannot stop a calibration run.
    """

    def __init__(self, maxlen: int = 10_000):
        self.history: deque[Event] = deque(maxlen=maxlen)
        self._observers: list[Callable[[Event], None]] = []
        self._lock = threading.Lock()

    def observe(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every future event; returns an unsubscribe function."""
        with self._lock:
            self._observers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._observers:
                    self._observers.remove(callback)

        return unsubscribe

    def emit(self, event: Event) -> None:
        self.history.append(event)
        with self._lock:
            observers = list(self._observers)
        for cb in observers:
            try:
                cb(event)
            except Exception as exc:  # noqa: BLE001
                import logging

                logging.getLogger("jwinteract").warning(
                    "event observer %r failed (%s); it has been removed", cb, exc
                )
                with self._lock:
                    if cb in self._observers:
                        self._observers.remove(cb)

    def since(self, index: int) -> list[Event]:
        """Events after position ``index`` of the history (for tests and the CLI)."""
        return list(self.history)[index:]
