"""Sign-ins counted per username and per client address: after too many failures in the window, sign-in
answers 429 until the oldest failure ages out; and every attempt, right or wrong, is rate-limited too
(`per_user_minute`, `per_address_minute`), since a correct password costs the same argon2 hash as a wrong
one and a client signing in in a loop would otherwise own the password worker. Bounded: the least recently
seen keys are forgotten first, so a flood of made-up usernames cannot grow the tables."""

from __future__ import annotations

from collections import OrderedDict, deque


class SignInThrottle:
    def __init__(
        self,
        *,
        per_user: int = 5,
        per_address: int = 30,
        window: float = 900.0,
        per_user_minute: int = 10,
        per_address_minute: int = 120,
        keys: int = 10_000,
    ) -> None:
        self.limits = {"user": per_user, "address": per_address}
        self.window = window
        self.rates = {"user": per_user_minute, "address": per_address_minute}
        self.keys = keys
        self.failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()
        self.attempts: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    @staticmethod
    def _recent(
        table: OrderedDict[tuple[str, str], deque[float]], key: tuple[str, str], now: float, window: float
    ) -> deque[float]:
        times = table.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - window:
            times.popleft()
        return times

    def _keys(self, username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username.lower()), ("address", address)

    def wait(self, username: str, address: str, now: float) -> float:
        """Seconds until this sign-in may be tried; 0 when it may be tried now."""
        waits = [0.0]
        for key in self._keys(username, address):
            times = self._recent(self.failures, key, now, self.window)
            if len(times) >= self.limits[key[0]]:
                waits.append(times[0] + self.window - now)
            tried = self._recent(self.attempts, key, now, 60.0)
            if len(tried) >= self.rates[key[0]]:
                waits.append(tried[0] + 60.0 - now)
        return max(waits)

    def _note(
        self, table: OrderedDict[tuple[str, str], deque[float]], key: tuple[str, str], now: float
    ) -> None:
        times = self._recent(table, key, now, self.window if table is self.failures else 60.0)
        times.append(now)
        table[key] = times
        table.move_to_end(key)
        while len(table) > self.keys:
            table.popitem(last=False)

    def attempted(self, username: str, address: str, now: float) -> None:
        """A sign-in goes to the password check (counted whatever its outcome)."""
        for key in self._keys(username, address):
            self._note(self.attempts, key, now)

    def failed(self, username: str, address: str, now: float) -> None:
        for key in self._keys(username, address):
            self._note(self.failures, key, now)

    def succeeded(self, username: str) -> None:
        self.failures.pop(("user", username.lower()), None)


class ClientRate:
    """At most `per_minute` requests a minute from one client address, for unauthenticated routes whose
    answers must not be harvested by trying (short links). Bounded like the sign-in tables."""

    def __init__(self, per_minute: int = 60, keys: int = 10_000) -> None:
        self.per_minute = per_minute
        self.keys = keys
        self.seen: OrderedDict[str, deque[float]] = OrderedDict()

    def wait(self, address: str, now: float) -> float:
        """Seconds until this client may ask again (0: now, and the request is counted)."""
        times = self.seen.get(address) or deque()
        while times and times[0] <= now - 60.0:
            times.popleft()
        if len(times) >= self.per_minute:
            return times[0] + 60.0 - now
        times.append(now)
        self.seen[address] = times
        self.seen.move_to_end(address)
        while len(self.seen) > self.keys:
            self.seen.popitem(last=False)
        return 0.0
