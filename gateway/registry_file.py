"""Read registry YAML files from disk: one file, or every *.yaml in a folder (one file per site)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec

from gateway.errors import ConfigError
from sensors.registry import RegistryError, SiteRegistry, parse_registry


def load_registries(path: Path) -> list[SiteRegistry]:
    files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
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
            registries.append(parse_registry(text, str(file), _load_large(text)))
        except RegistryError as exc:
            problems.extend(exc.problems)
    sites = [r.site for r in registries]
    duplicates = {s for s in sites if sites.count(s) > 1}
    if duplicates:
        problems.append(f"{path}: site ids defined twice: {sorted(duplicates)}")
    if problems:
        raise ConfigError("\n".join(problems))
    return registries


LARGE = 1 << 20
_CHILD = (
    "import sys, yaml, msgspec; "
    "data = yaml.load(sys.stdin.buffer, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader)); "
    "sys.stdout.buffer.write(msgspec.json.encode(data))"
)


def _load_large(text: str) -> Any:
    """YAML of a large registry loaded in a child process and handed back as JSON.

    PyYAML's loader peaks at ~60x the file (1 GB for a 100k-household district) and the freed memory stays
    fragmented in this process; the JSON it hands back costs a few bytes per byte. Small files, and any file
    the child cannot load (the parent then reports the YAML error with its line), load here."""
    if len(text) < LARGE:
        return None
    child = subprocess.run(
        [sys.executable, "-c", _CHILD], input=text.encode(), capture_output=True, check=False
    )
    if child.returncode != 0:
        return None
    return msgspec.json.decode(child.stdout)
