"""The SELECTs, by what they read: handlers and commands ask these and never write SQL themselves.

Each function takes an open session (the caller owns the transaction) or returns a `Select` the caller
pages (`gateway.http.api.deps.paged`); scoping by who asks is a clause the caller passes in.
"""

from gateway.store.queries.accounts import all_accounts, disable_account, staff_of
from gateway.store.queries.duty import (
    DUTY_ROLES,
    clashes,
    rosterable,
    shifts_around,
    shifts_between,
    shifts_query,
)
from gateway.store.queries.estate import (
    BuildingBoard,
    building_board,
    devices_of_household,
    devices_query,
    grid_members,
    grids_of,
    households_query,
    people_of_household,
    residents_named,
    sites_for,
)

__all__ = [
    "DUTY_ROLES",
    "BuildingBoard",
    "all_accounts",
    "building_board",
    "clashes",
    "devices_of_household",
    "devices_query",
    "disable_account",
    "grid_members",
    "grids_of",
    "households_query",
    "people_of_household",
    "residents_named",
    "rosterable",
    "shifts_around",
    "shifts_between",
    "shifts_query",
    "sites_for",
    "staff_of",
]
