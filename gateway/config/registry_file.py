"""Read registry YAML files from disk: one file, or every *.yaml in a folder (one file per site)."""

from __future__ import annotations

from pathlib import Path

from gateway.errors import ConfigError
from sensors.registry import RegistryError, SiteRegistry, parse_registry


def registry_files(path: Path) -> list[Path]:
    """The file, or every *.yaml / *.yml in the folder (one file per site)."""
    return sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]


def load_registries(path: Path) -> list[SiteRegistry]:
    files = registry_files(path)
    if not files:
        raise ConfigError(f"{path}: no registry files (*.yaml) in this folder")
    registries: list[SiteRegistry] = []
    problems: list[str] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read registry: {exc.strerror}") from exc
        try:
            registries.append(parse_registry(text, str(file)))
        except RegistryError as exc:
            problems.extend(exc.problems)
    sites = [r.site for r in registries]
    duplicates = {s for s in sites if sites.count(s) > 1}
    if duplicates:
        problems.append(f"{path}: site ids defined twice: {sorted(duplicates)}")
    if problems:
        raise ConfigError("\n".join(problems))
    return registries
