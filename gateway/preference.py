"""A person's notification preferences, and the checks every way of setting them goes through.

The planner reads them (from memory), the API sets them, the relational store keeps them. Like
`gateway.subscription`, the record lives here, beside the roles, so the store need not import the notifier
and the notifier need not import the store.

What a person may choose, and what they may not:

- `channels`: channel names in the order they want their addresses tried. Names are data, checked
  against the channels the gateway has; a channel not named keeps its place after the named ones.
- `language`: which language a message's text starts with ("zh", the residents' language, or "en").
- `quiet_hours`: "22:00-07:00" in the site's time zone, replacing the site's own for P3/P4; None keeps
  the site's. P1/P2 never wait.
- `opt_out`: P3/P4 notices they do not want, as rule ids (the battery notice's, say) or families
  ("health": its P3/P4 rules). A P1 or P2 rule cannot be opted out of: the check refuses it, and the
  planner only ever consults opt-outs for P3/P4.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from alerts.rule import Family
from alerts.rules import RULES
from gateway.errors import PreferenceRefused

LANGUAGES = ("zh", "en")
QUIET = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$")
OPTIONAL = ("P3", "P4")
"""The severities a person may opt out of."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Preference:
    site: str
    person: str
    channels: tuple[str, ...] = ()
    language: str = "zh"
    quiet_hours: str | None = None
    opt_out: tuple[str, ...] = ()
    updated: float = 0.0

    def wants(self, rule: str, severity: str) -> bool:
        """Whether this person is told of this rule at this severity. P1/P2: always."""
        if severity not in OPTIONAL:
            return True
        row = RULES.get(rule)
        family = str(row.family) if row is not None else ""
        return rule not in self.opt_out and family not in self.opt_out


def quiet_window(spec: str | None) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """ "22:00-07:00" -> ((22, 0), (7, 0)); None for none. Raises PreferenceRefused for another shape."""
    if not spec:
        return None
    m = QUIET.match(spec)
    if m is None:
        raise PreferenceRefused("quiet_hours", f"{spec!r} is not HH:MM-HH:MM (e.g. 22:00-07:00)")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    return (h1, m1), (h2, m2)


def optional_rules() -> list[tuple[str, str]]:
    """(rule id, severity) of every rule a person may opt out of, in the rule table's order."""
    return [(r.id, str(r.severity)) for r in RULES.values() if str(r.severity) in OPTIONAL]


def check(p: Preference, channels: Collection[str]) -> Preference:
    """The preference as kept (opt-outs and channels without repeats), or PreferenceRefused naming the
    field. `channels`: the names of the channels the gateway has."""
    unknown = [c for c in p.channels if c not in channels]
    if unknown:
        raise PreferenceRefused("channels", f"unknown channel {unknown[0]!r}; known: {sorted(channels)}")
    if p.language not in LANGUAGES:
        raise PreferenceRefused("language", f"{p.language!r} is not one of {list(LANGUAGES)}")
    quiet_window(p.quiet_hours)
    families = {str(f) for f in Family}
    for name in p.opt_out:
        row = RULES.get(name)
        if row is None and name not in families:
            raise PreferenceRefused("opt_out", f"{name!r} is neither a rule nor a family of rules")
        if row is not None and str(row.severity) not in OPTIONAL:
            raise PreferenceRefused("opt_out", f"{name} is {row.severity}: P1/P2 always reach you")
    return Preference(
        site=p.site,
        person=p.person,
        channels=tuple(dict.fromkeys(p.channels)),
        language=p.language,
        quiet_hours=p.quiet_hours or None,
        opt_out=tuple(dict.fromkeys(p.opt_out)),
        updated=p.updated,
    )
