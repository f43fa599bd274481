"""A token bucket: at most ``rate`` sends per second, with bursts of up to ``burst``.

Mail servers throttle (or block) a client that sends faster than they allow, so a channel waits
for a token before each message. The clock and the sleep are injected, so a test checks the
computed waits without waiting; the defaults are the monotonic clock and ``time.sleep``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be a positive number of sends per second")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until there is one; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + max(0.0, now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            wait = (1 - self._tokens) / self.rate
            # The token that accrues while we sleep is the one we take.
            self._tokens = 0.0
            self._last = now + wait
            self._sleep(wait)
            return wait
