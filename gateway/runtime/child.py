"""Build something big in a child process and keep only the result: the parse never touches our heap.

Parsing a district's registry (100,000 households) builds ~250-290 MB of validated objects; freed, they
leave the process's heap fragmented for its whole life (measured: ~100 MB of RSS that never returns).
Pickled back from a child, the compiled structures are laid out densely and the parent never holds the
parse at all. The single-box gateway (`prepare_compact`) and a district instance (`compile_partitions`)
both build this way.
"""

from __future__ import annotations

import asyncio
import pickle
import sys
from pathlib import Path

from gateway.config.registry_file import registry_files
from gateway.config.settings import Settings
from gateway.errors import ConfigError

LARGE = 1 << 20  # bytes of registry YAML from which the child pays for itself (a 17 MB file: 100k households)


def registry_size(path: Path) -> int:
    return sum(f.stat().st_size for f in registry_files(path) if f.is_file())


async def in_child(module: str, function: str, settings: Settings) -> object:
    """`module.function(settings)` (a coroutine function or a plain one) run in a child process; its result
    comes back pickled, so this process never holds what it built on the way. A `ConfigError` in the child
    is raised here."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"from {__name__} import _child; _child({module!r}, {function!r})",
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
    return result


def _child(module: str, function: str) -> None:
    import importlib
    import inspect

    settings = pickle.loads(sys.stdin.buffer.read())  # written by our parent
    target = getattr(importlib.import_module(module), function)
    try:
        result = target(settings)
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
    except ConfigError as exc:
        result = exc
    sys.stdout.buffer.write(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
