"""Request counts and latencies per endpoint, for /metrics."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any

import numpy as np

# Latency percentiles are computed over each endpoint's most recent requests.
WINDOW = 10_000


class RequestMetrics:
    """Counts of requests by endpoint and status, and latency percentiles by endpoint."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, int]] = Counter()
        self._latencies: defaultdict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))

    def record(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            self._counts[(endpoint, status)] += 1
            self._latencies[endpoint].append(seconds)

    def snapshot(self) -> dict[str, Any]:
        """{"requests": total, "endpoints": {endpoint: {"requests", "status": {code: n},
        "latency_ms": {"p50", "p99", "max"}}}}"""
        with self._lock:
            endpoints: dict[str, Any] = {}
            for (endpoint, status), n in sorted(self._counts.items()):
                entry = endpoints.setdefault(endpoint, {"requests": 0, "status": {}})
                entry["requests"] += n
                entry["status"][str(status)] = n
            for endpoint, seconds in self._latencies.items():
                ms = np.asarray(seconds) * 1000.0
                endpoints[endpoint]["latency_ms"] = {
                    "p50": float(np.percentile(ms, 50)),
                    "p99": float(np.percentile(ms, 99)),
                    "max": float(ms.max()),
                }
            return {"requests": sum(self._counts.values()), "endpoints": endpoints}
