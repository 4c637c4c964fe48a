"""The relational store: registry, people, accounts, alarm state and its history (docs/store.md)."""

from gateway.store.accounts import PERSON_ROLES, authenticate, bump_version, create_account, get_account
from gateway.store.alarm_book import OPEN, STATES, AlarmBook, public
from gateway.store.db import Store, alembic_config, open_store, sqlite_url
from gateway.store.duty import NewShift, add_shift, delete_shift, hand_over, load_shifts
from gateway.store.preferences import PreferenceTable
from gateway.store.registry_import import away_flags, import_registry, sync_registries
from gateway.store.roster import import_roster, parse_roster, roster_overlay
from gateway.store.schema import Account, Alarm, Building, Device, DutyShift, Grid, Household, Person, Site
from gateway.store.short_links import ShortLinkTable
from gateway.store.subscriptions import PushSubscriptions

__all__ = [
    "OPEN",
    "PERSON_ROLES",
    "STATES",
    "Account",
    "Alarm",
    "AlarmBook",
    "Building",
    "Device",
    "DutyShift",
    "Grid",
    "Household",
    "NewShift",
    "Person",
    "PreferenceTable",
    "PushSubscriptions",
    "ShortLinkTable",
    "Site",
    "Store",
    "add_shift",
    "alembic_config",
    "authenticate",
    "away_flags",
    "bump_version",
    "create_account",
    "delete_shift",
    "get_account",
    "hand_over",
    "import_registry",
    "import_roster",
    "load_shifts",
    "open_store",
    "parse_roster",
    "public",
    "roster_overlay",
    "sqlite_url",
    "sync_registries",
]
