"""Progress bars on a terminal, plain step lines in logs."""

from __future__ import annotations

import io

from gateway.runtime.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminal_gets_one_redrawn_bar() -> None:
    out = Terminal()
    bar = Progress(2, out)
    bar.step("generating")
    bar.step("provisioning")
    for i in range(1, 11):
        bar.count(i, 10, "devices")
    bar.finish("ready")
    text = out.getvalue()
    assert text.count("\n") == 1 and "\r[" in text
    assert "devices 10/10" in text and "100%  ready" in text
    assert "[############------------]  50%  provisioning" in text


def test_logs_get_a_line_per_step() -> None:
    out = io.StringIO()
    bar = Progress(2, out)
    bar.step("generating")
    bar.count(5, 10, "devices")  # nothing: a log is not redrawn
    bar.step("provisioning")
    bar.finish("ready")
    assert out.getvalue().splitlines()[:2] == ["[1/2] generating", "[2/2] provisioning"]
    assert out.getvalue().splitlines()[2].startswith("ready (")
