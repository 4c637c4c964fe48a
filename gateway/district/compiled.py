"""What an instance knows of each partition: its sites' device index and rule model, compiled once.

Every instance may come to own any partition, so it compiles all of them at start. Parsing a district's
registry (100,000 households) builds ~290 MB of validated objects that, freed, leave the heap fragmented for
the process's life; so a large registry is compiled in a child process (`gateway.runtime.child.in_child`,
as the single-box gateway does) and only the compiled structures come back. Measured with 100,000
detectors in 8 communities: the instance's RSS went from 452 MB to the figure in docs/benchmarks.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerts.settings import SettingsError
from alerts.site import SiteModel, compile_site_model
from gateway.config.registry_file import load_registries
from gateway.config.settings import Settings
from gateway.district.partitions import by_partition
from gateway.errors import ConfigError
from gateway.notify.directory import Directory
from gateway.runtime.child import LARGE, in_child, registry_size
from sensors.index import DeviceIndex, compile_index


@dataclass(frozen=True, slots=True)
class Partition:
    sites: list[str]
    index: DeviceIndex
    model: SiteModel
    directory: Directory
    """Who its alarms' audiences are (the notifier's, `gateway.notify.directory`)."""


def compile_partitions(settings: Settings) -> dict[int, Partition]:
    registries = load_registries(settings.registry)
    by_site = {r.site: r for r in registries}
    out: dict[int, Partition] = {}
    for p, sites in by_partition(list(by_site), settings.cluster.partitions).items():
        regs = [by_site[s] for s in sites]
        index = compile_index(regs)
        try:
            model = compile_site_model(regs, index, settings.alerts.rules)
        except SettingsError as exc:
            raise ConfigError(f"{settings.registry}: {exc}") from exc
        out[p] = Partition(sites, index, model, Directory(regs, model))
    return out


async def compile_partitions_compact(settings: Settings, *, child_from: int = LARGE) -> dict[int, Partition]:
    """`compile_partitions`, in a child process when the registry is `child_from` bytes or more."""
    if registry_size(settings.registry) < child_from:
        return compile_partitions(settings)
    result = await in_child(__name__, "compile_partitions", settings)
    if not isinstance(result, dict):
        raise ConfigError(f"{settings.registry}: compiling the partitions returned {type(result).__name__}")
    return result
