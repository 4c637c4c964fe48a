"""Each package says exactly what it offers: an `__all__` naming every public name it holds, and nothing
it does not hold. A name added to a package without `__all__`, or listed and gone, fails here."""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOPS = ("sensors", "alerts", "gateway", "simulators", "dashboards")
PACKAGES = sorted(
    ".".join(p.parent.relative_to(ROOT).parts) for top in TOPS for p in (ROOT / top).rglob("__init__.py")
)


@pytest.mark.parametrize("name", PACKAGES)
def test_a_package_exports_exactly_its_public_names(name: str) -> None:
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    assert len(set(exported)) == len(exported), f"{name}.__all__ repeats a name"
    missing = [n for n in exported if not hasattr(package, n)]
    assert missing == [], f"{name}.__all__ names what it does not hold: {missing}"
    public = {
        n
        for n, v in vars(package).items()
        if not n.startswith("_") and not inspect.ismodule(v) and n != "annotations"
    }
    assert public == set(exported), f"{name}: public but not exported {sorted(public - set(exported))}"


def test_every_module_imports_on_its_own() -> None:
    """Re-exports make import order matter: each module must import first, with none of the project's
    modules loaded before it (a forked child forgets them; the libraries stay loaded, so this is fast)."""
    modules = [
        m.name
        for top in TOPS
        for m in pkgutil.walk_packages([str(ROOT / top)], prefix=f"{top}.")
        if not m.name.endswith("__main__")
    ]
    for name in modules:  # the libraries they use, loaded once here
        importlib.import_module(name)
    failed = []
    for name in modules:
        pid = os.fork()
        if pid == 0:  # the child: forget the project, import one module, report by exit status
            for loaded in [m for m in sys.modules if m.split(".")[0] in TOPS]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except BaseException:
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            failed.append(name)
    assert failed == []
