"""Run scenarios through the replay path (`gateway.pipeline.replay`, the code behind `guardian replay`)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml

from gateway.pipeline.replay import build_engine, replay
from simulators import scenarios


def run(
    tmp_path: Path,
    messages: list[dict[str, Any]],
    *,
    until: float | None = None,
    **registry: Any,
) -> list[dict[str, Any]]:
    """Replay messages against a one-household registry; return the transitions as replay prints them."""
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(scenarios.registry(**registry)))
    engine, decoder = build_engine(path)
    out: list[dict[str, Any]] = []
    replay(
        engine,
        decoder,
        io.BytesIO(scenarios.jsonl(messages)),
        until=until,
        emit=lambda t: out.append(t.to_json()),
    )
    return out


def first(transitions: list[dict[str, Any]], rule: str, kind: str = "raised") -> dict[str, Any] | None:
    return next((t for t in transitions if t["rule"] == rule and t["transition"] == kind), None)


def rules_raised(transitions: list[dict[str, Any]]) -> set[str]:
    return {t["rule"] for t in transitions if t["transition"] == "raised"}
