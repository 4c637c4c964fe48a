"""The exception tree in gateway/errors.py is the whole tree: every exception the gateway defines is there,
under GuardianError, and drawn in its docstring."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import gateway
from gateway import errors


def _gateway_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(gateway.__path__, "gateway.")]
    return [n for n in names if ".store.migrations" not in n]


def test_every_exception_the_gateway_defines_lives_in_errors_under_guardian_error() -> None:
    outside = []
    for name in _gateway_modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and name != "gateway.errors"
                and not attr.startswith("_")
            ):
                outside.append(f"{name}.{attr}")
    assert not outside, f"exceptions outside gateway/errors.py: {outside}"
    tree = errors.__doc__ or ""
    for attr, value in vars(errors).items():
        if (
            inspect.isclass(value)
            and issubclass(value, BaseException)
            and value.__module__ == errors.__name__
        ):
            assert issubclass(value, errors.GuardianError), attr
            assert attr in tree, f"{attr} is not drawn in errors.py's tree"
