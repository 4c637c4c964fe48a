"""The registry made ready to run: read, imported into the store, overlaid with rosters, compiled.

For a district (a registry of a megabyte or more) this runs in a child process that hands back only the
compiled structures (`gateway.runtime.child`: why).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alerts.settings import SettingsError
from alerts.site import SiteModel, compile_site_model
from gateway.config.registry_file import load_registries
from gateway.config.settings import Settings
from gateway.errors import ConfigError
from gateway.notify.directory import Directory
from gateway.runtime.child import LARGE, in_child, registry_size
from gateway.store.db import open_store
from gateway.store.registry_import import sync_registries
from gateway.store.roster import roster_overlay
from sensors.index import DeviceIndex, compile_index

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    index: DeviceIndex
    model: SiteModel
    directory: Directory
    sites: int
    imported: dict[str, str]  # site -> what the store import changed, for sites whose registry changed


async def prepare(settings: Settings) -> Prepared:
    registries = load_registries(settings.registry)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    async with open_store(settings.store_url()) as store:
        imported = {
            site: changes.summary()
            for site, changes in (await sync_registries(store, registries)).items()
            if changes is not None
        }
        registries = await roster_overlay(store, registries)
    index = compile_index(registries)
    try:
        model = compile_site_model(registries, index, settings.alerts.rules)
    except SettingsError as exc:
        raise ConfigError(f"{settings.registry}: {exc}") from exc
    return Prepared(index, model, Directory(registries, model), len(registries), imported)


async def prepare_compact(settings: Settings, *, child_from: int = LARGE) -> Prepared:
    """`prepare`, in a child process when the registry is `child_from` bytes or more."""
    if registry_size(settings.registry) < child_from:
        return await prepare(settings)
    result = await in_child(__name__, "prepare", settings)
    if not isinstance(result, Prepared):
        raise ConfigError(f"{settings.registry}: preparing the registry returned {type(result).__name__}")
    return result
