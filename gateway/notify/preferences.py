"""People's notification preferences as the planner reads them: all of them in memory, so deciding who
gets what never waits on the store.

Loaded whole at start, replaced whole on each refresh (a named child of the notifier's TaskGroup, for
edits made by another gateway process or straight in the store), and changed one at a time as the API
saves an edit, so the next alarm already follows it. A person with no row has the site's defaults.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from sqlalchemy.exc import SQLAlchemyError

from gateway.preference import Preference, quiet_window

log = logging.getLogger(__name__)

Source = Callable[[], Awaitable[list[Preference]]]
Window = tuple[tuple[int, int], tuple[int, int]]


class Preferences:
    def __init__(self, source: Source | None = None, every: float = 300.0) -> None:
        """`source`: where they are kept (the store's `PreferenceTable.all`); None: only what is `put`."""
        self.source = source
        self.every = every
        self._by: dict[tuple[str, str], Preference] = {}
        self._quiet: dict[tuple[str, str], Window] = {}

    def of(self, site: str, person: str) -> Preference | None:
        return self._by.get((site, person))

    def quiet(self, site: str, person: str) -> Window | None:
        """The person's own quiet hours, parsed once; None: the site's apply (if any apply to them)."""
        return self._quiet.get((site, person))

    def put(self, p: Preference) -> None:
        """One person's preferences, checked already (`gateway.preference.check`)."""
        key = (p.site, p.person)
        self._by[key] = p
        window = quiet_window(p.quiet_hours)
        if window is None:
            self._quiet.pop(key, None)
        else:
            self._quiet[key] = window

    def replace(self, everyone: Iterable[Preference]) -> None:
        self._by.clear()
        self._quiet.clear()
        for p in everyone:
            self.put(p)

    def __len__(self) -> int:
        return len(self._by)

    async def load(self) -> int:
        if self.source is not None:
            self.replace(await self.source())
        return len(self)

    async def run(self) -> None:
        """Refresh from the source every `every` seconds; a store that does not answer keeps what is held."""
        if self.source is None:
            return
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.load()
            except (SQLAlchemyError, OSError) as exc:
                log.warning("preferences not refreshed (%s); keeping the %d held", exc, len(self))
