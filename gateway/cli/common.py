"""What every command shares: the settings, read from the file and the environment."""

from __future__ import annotations

import argparse
from typing import Any


def settings_of(args: argparse.Namespace) -> Any:
    """The settings for this command: `--config` and the environment, `--registry` over both."""
    from gateway.config.settings import load_settings

    overrides = {}
    if getattr(args, "registry", None):
        overrides["registry"] = args.registry
    return load_settings(args.config, **overrides)
