"""Failed sign-ins counted per username and per client address: after too many in the window, sign-in
answers 429 until the oldest failure ages out. Bounded: the least recently failing keys are forgotten first,
so a flood of made-up usernames cannot grow the table."""

from __future__ import annotations

from collections import OrderedDict, deque


class SignInThrottle:
    def __init__(
        self, *, per_user: int = 5, per_address: int = 30, window: float = 900.0, keys: int = 10_000
    ) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self.keys = keys
        self.failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self.failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, username: str, address: str, now: float) -> float:
        """Seconds until this sign-in may be tried; 0 when it may be tried now."""
        waits = [0.0]
        for kind, value in (("user", username.lower()), ("address", address)):
            times = self._recent((kind, value), now)
            if len(times) >= self.limits[kind]:
                waits.append(times[0] + self.window - now)
        return max(waits)

    def failed(self, username: str, address: str, now: float) -> None:
        for key in (("user", username.lower()), ("address", address)):
            times = self._recent(key, now)
            times.append(now)
            self.failures[key] = times
            self.failures.move_to_end(key)
        while len(self.failures) > self.keys:
            self.failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        self.failures.pop(("user", username.lower()), None)
