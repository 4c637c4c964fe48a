"""The gateway's heap: the collector told what is permanent, and glibc malloc settings.

Python's cyclic collector: the compiled registry, the rule state and every imported module live as long as
the process, yet each full collection walked all of them, 150-190 ms a time at 101,000 devices, and the
hot path's short-lived tuples triggered one every second or so at 35k msg/s: a third of the gateway's CPU
in `make bench`, and a pause every alarm behind it waited for. `settle_heap` moves what start-up built out
of the collector's sight (`gc.freeze`) and lets the young generation grow to 50,000 objects between
collections, so garbage made per message is swept a few times a second instead of fifty.

glibc malloc: the gateway lives for months and handles large transient buffers (a rule snapshot of 25 MB
every 30 s, per-device columns replaced at restore, batches of lines).

With glibc's defaults, freeing one large mmapped block raises the mmap threshold to its size, so later
blocks of that size come from the heap and stay there, fragmented, after they are freed; and every thread
that allocates (the spool's and the store's worker threads) may get an arena of its own. Measured with the
101,000-device registry of `make bench`: 238 MB -> 229 MB at the first start, 266 MB -> 237 MB at a
restart from a snapshot (docs/benchmarks.md). Other C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter numbers (malloc.h)
M_ARENA_MAX = -8
MMAP_FROM = 256 * 1024  # blocks this large are mapped, and unmapped when freed; batches stay below it
YOUNG = 50_000  # allocations between young collections (CPython's default: 700)


def settle_heap() -> None:
    """Call once start-up has built what lives for the whole run."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG, middle, old)


def tune_malloc() -> bool:
    """Fix the mmap threshold and cap the arenas; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 -- only glibc has it; musl's mallopt ignores these
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_FROM)) and bool(mallopt(M_ARENA_MAX, 2))
    if not ok:
        log.warning("malloc settings not applied; memory use may grow with fragmentation")
    return ok
