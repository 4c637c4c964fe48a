"""A channel is a file with declared traits: the notifier asks traits, never a name. A channel name written
anywhere else in the gateway would be a second home for that channel's behaviour."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.notify import channels
from gateway.notify.channels.base import ChannelTraits

ROOT = Path(__file__).resolve().parents[3]


def _names() -> set[str]:
    return {
        c.name
        for c in vars(channels).values()
        if isinstance(c, type) and issubclass(c, ChannelTraits) and c is not ChannelTraits
    }


def test_every_channel_declares_a_name_and_its_traits() -> None:
    names = _names()
    assert {"webpush", "bot", "apprise", "webhook", "mqtt"} <= names
    for c in vars(channels).values():
        if isinstance(c, type) and issubclass(c, ChannelTraits) and c is not ChannelTraits:
            assert c.pace in (None, "target", "recipient"), c
            assert isinstance(c.follow_ups, bool) and isinstance(c.confirms_receipt, bool), c


def test_no_channel_name_is_written_outside_its_file_and_the_registry() -> None:
    names = _names()
    home = ROOT / "gateway" / "notify" / "channels"
    offenders = []
    for path in sorted((ROOT / "gateway").rglob("*.py")):
        if path.is_relative_to(home):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                line = path.read_text().splitlines()[node.lineno - 1]
                if node.value == "mqtt" and "channel" not in line.lower():
                    continue  # the broker's health and readiness, not the siren channel
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    assert offenders == []


def test_inside_the_channels_a_name_stays_in_its_own_files() -> None:
    """A channel may have helper modules (a provider's payload, its callback protocol): they are named after
    it (`jpush_payload.py` beside `jpush.py`, `wechat_push.py` beside `wechat_oa.py`), and no other file of
    the package names the channel, the registry aside."""
    home = ROOT / "gateway" / "notify" / "channels"
    family = {
        c.name: c.__module__.rsplit(".", 1)[1].split("_")[0]
        for c in vars(channels).values()
        if isinstance(c, type) and issubclass(c, ChannelTraits) and c is not ChannelTraits
    }
    offenders = []
    for path in sorted(home.glob("*.py")):
        if path.stem in ("__init__", "registry"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and value in family and not path.stem.startswith(family[value]):
                offenders.append(f"{path.name}:{getattr(node, 'lineno', 0)}: {value}")
    assert offenders == []
