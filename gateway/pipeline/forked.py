"""Read a consistent copy of this process's state without holding its event loop: a forked child does it.

The rule state of 100,000 detectors is ~31 MB of columns. Serialising it for the 30-second snapshot took
110-160 ms of the event loop on a two-core machine, and the once-a-minute estate state another 100-200 ms:
a CO alarm whose reading arrived then waited that long to be decided. Copying first and working on the copy
in a thread does not help: the copy itself is the cost, and it has to be made where the state is consistent,
on the loop. `fork()` makes that copy lazily instead (copy-on-write pages, as Redis's BGSAVE does): the
parent goes on at once and the child sees the state of the instant it was made.

The child runs one function, hands its bytes back through a pipe and leaves with `os._exit`, so it runs no
atexit handler, flushes none of the parent's buffers and never touches the event loop, its sockets or the
other threads' locks. A signal sent to the child alone is not passed on to the parent's loop (its wakeup
descriptor is the parent's; the child drops it first). Linux only, as the gateway is.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

from gateway.errors import ForkFailed

log = logging.getLogger(__name__)


def _read_all(fd: int) -> bytes:
    chunks = []
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            chunks.append(chunk)
    return b"".join(chunks)


def _child(work: Callable[[], bytes], w: int) -> None:
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        data = work()
        with os.fdopen(w, "wb") as f:
            f.write(data)
        code = 0
    finally:
        os._exit(code)


async def in_fork(work: Callable[[], bytes]) -> bytes:
    """`work()` run in a forked child; its bytes. Raises ForkFailed when the child cannot be made or fails
    (the caller decides whether to do the work in place instead)."""
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(r)
        os.close(w)
        raise ForkFailed(f"fork: {exc}") from exc
    if pid == 0:  # pragma: no cover - the child; it never returns
        os.close(r)
        _child(work, w)
    os.close(w)
    loop = asyncio.get_running_loop()
    try:
        data = await loop.run_in_executor(None, _read_all, r)
    finally:
        _, status = await loop.run_in_executor(None, os.waitpid, pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise ForkFailed(f"child {pid} " + (f"exited {code}" if code > 0 else f"killed by signal {-code}"))
    return data
