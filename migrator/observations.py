"""Sliding windows of what the service saw: latencies, request outcomes, shadow overlaps."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Sample:
    at: float
    value: float


class Window:
    """Timestamped values, pruned to the last ``horizon_s`` seconds (and ``maxlen`` items)."""

    def __init__(self, horizon_s: float = 3600.0, maxlen: int = 100_000) -> None:
        self.horizon_s = horizon_s
        self._items: deque[Sample] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def add(self, value: float, at: float | None = None) -> None:
        with self._lock:
            self._items.append(Sample(time.time() if at is None else at, value))

    def values(self, window_s: float) -> list[float]:
        cutoff = time.time() - min(window_s, self.horizon_s)
        with self._lock:
            while self._items and self._items[0].at < time.time() - self.horizon_s:
                self._items.popleft()
            return [s.value for s in self._items if s.at >= cutoff]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class Observations:
    """Per-index latency and outcome windows, and shadow overlaps, for the guardrails."""

    def __init__(self) -> None:
        self.latency_ms: defaultdict[str, Window] = defaultdict(Window)
        self.outcomes: defaultdict[str, Window] = defaultdict(Window)  # 1.0 ok, 0.0 error
        self.overlaps = Window()

    def search(self, index: str, ms: float) -> None:
        self.latency_ms[index].add(ms)
        self.outcomes[index].add(1.0)

    def success(self, index: str) -> None:
        """A request ``index`` answered that is no timed search (a write's embedding)."""
        self.outcomes[index].add(1.0)

    def failure(self, index: str) -> None:
        self.outcomes[index].add(0.0)

    def shadow(self, index: str, ms: float, overlap: float | None) -> None:
        """A shadow read on ``index``: counts for its latency, outcome and the overlap."""
        if overlap is None:
            self.failure(index)
            return
        self.search(index, ms)
        self.overlaps.add(overlap)

    def latencies_ms(self, index: str, window_s: float) -> list[float]:
        """Latencies of ``index`` within the window; looking never adds a window."""
        window = self.latency_ms.get(index)
        return window.values(window_s) if window is not None else []

    def errors(self, index: str, window_s: float) -> tuple[int, int]:
        """(requests, errors) on ``index`` within the window."""
        outcomes = self.outcomes[index].values(window_s)
        return len(outcomes), sum(1 for v in outcomes if v == 0.0)

    def reset(self) -> None:
        """Forget everything (a new migration, or a resume, starts a fresh judgement)."""
        for windows in (self.latency_ms, self.outcomes):
            for window in windows.values():
                window.clear()
        self.overlaps.clear()
