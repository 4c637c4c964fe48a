"""The registry made ready to run: read, imported into the store, overlaid with rosters, compiled.

For a district (a registry of a megabyte or more) this runs in a child process that hands back only the
compiled structures, pickled. Parsing 100,000 households builds ~250 MB of validated objects; freed, they
leave this process's heap fragmented for its whole life (measured: ~100 MB of RSS that never returns).
Unpickled, the compiled structures are laid out densely and the parent never holds the parse at all.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

from alerts.settings import SettingsError
from alerts.site import SiteModel, compile_site_model
from gateway.config.registry_file import load_registries, registry_files
from gateway.config.settings import Settings
from gateway.errors import ConfigError
from gateway.notify.directory import Directory
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


LARGE = 1 << 20  # bytes of registry YAML from which the child pays for itself (a 17 MB file: 100k households)


def registry_size(path: Path) -> int:
    return sum(f.stat().st_size for f in registry_files(path) if f.is_file())


async def prepare_compact(settings: Settings, *, child_from: int = LARGE) -> Prepared:
    """`prepare`, in a child process when the registry is `child_from` bytes or more."""
    if registry_size(settings.registry) < child_from:
        return await prepare(settings)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"from {__name__} import _child; _child()",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate(pickle.dumps(settings))
    if child.returncode != 0 or not out:
        raise ConfigError(f"{settings.registry}: preparing the registry failed (exit {child.returncode})")
    result = pickle.loads(out)  # our own child, through a pipe we opened
    del out
    if isinstance(result, Exception):
        raise result
    if not isinstance(result, Prepared):
        raise ConfigError(f"{settings.registry}: preparing the registry returned {type(result).__name__}")
    return result


def _child() -> None:
    settings = pickle.loads(sys.stdin.buffer.read())  # written by our parent
    try:
        result: Prepared | Exception = asyncio.run(prepare(settings))
    except ConfigError as exc:
        result = exc
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
