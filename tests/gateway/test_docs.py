"""The docs an operator reads say what the code does: the rule table against the rule rows, and no page or
help text pointing at a file the repository does not have."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from alerts.rule import Severity
from alerts.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = re.compile(r"\b(R|EC|PM|GO|MT)\b")


def _table() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in (ROOT / "docs" / "standards.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"[A-Z]+-\d+", cells[0]):
            rows[cells[0]] = (cells[2], cells[4])
    return rows


def test_the_rule_table_in_the_docs_is_the_rule_rows() -> None:
    table = _table()
    device_rules = {r for r in RULES if not r.startswith("SYS-")}
    assert set(table) - {"HLT-6"} == device_rules  # HLT-6 (pre-heat) suppresses, it never raises
    for rule_id in sorted(device_rules):
        severity, notify = table[rule_id]
        first = re.search(r"P[1-4]", severity)
        assert first is not None and Severity[first.group()] == RULES[rule_id].severity, rule_id
        # who is told at once: before any "; …" or ", then …" (escalation and conditional tiers)
        at_once = re.split(r";|,? then ", notify)[0]
        assert set(AUDIENCE.findall(at_once)) == {str(a) for a in RULES[rule_id].notify}, rule_id


def test_no_doc_code_or_help_points_at_a_file_that_is_not_here() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    names = {Path(p).name for p in tracked.stdout.split()}
    missing: list[str] = []
    for path in tracked.stdout.split():
        if not path.endswith((".py", ".md")) or path.startswith("tests/gateway/test_docs"):
            continue
        text = (ROOT / path).read_text(errors="replace")
        for ref in re.findall(r"\b([A-Z][A-Z_]+\.md)\b", text):
            if ref not in names:
                missing.append(f"{path}: {ref}")
        for ref in re.findall(r"\bdocs/[a-z_-]+\.md\b", text):
            if not (ROOT / ref).is_file():
                missing.append(f"{path}: {ref}")
    assert not missing, missing
