"""Apply progress lines: without colour they are written as they are, the same text rich prints."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from infra.cli import common
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action

ACTION = Action(address="ami.web[1]", kind="ami", group="web[1]", action=ActionKind.BUILD, reason="new")
MESSAGE = "packer [bold]says[/]: \rdone at http://user:secret@127.0.0.1:5000/ \x07"


def _lines(monkeypatch, color_system: str | None) -> tuple[str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    monkeypatch.setattr(common, "out", Console(file=stdout, soft_wrap=True, highlight=False, emoji=False,
                                               color_system=color_system, force_terminal=False))
    monkeypatch.setattr(common, "err", Console(file=stderr, soft_wrap=True, highlight=False, emoji=False,
                                               color_system=color_system, force_terminal=False))
    listener = common.ConsoleListener()
    listener.started(ACTION)
    listener.progress(ACTION, MESSAGE)
    listener.finished(ACTION, 1.25)
    listener.failed(ACTION, MESSAGE, 2.5)
    listener.skipped(ACTION, "depends on [x], which failed")
    return stdout.getvalue(), stderr.getvalue()


def test_plain_progress_is_the_text_rich_would_print(monkeypatch):
    plain = _lines(monkeypatch, None)
    assert plain[0].splitlines() == ["ami.web[1]: build...", "ami.web[1]: packer [bold]says[/]: done at "
                                     "http://user:(sensitive)@127.0.0.1:5000/ ", "ami.web[1]: built (1.2s)"]
    assert "failed after 2.5s" in plain[1] and "skipped: depends on [x], which failed" in plain[1]
    assert "secret" not in plain[0] + plain[1]


@pytest.mark.parametrize("stream", [0, 1])
def test_coloured_progress_says_the_same(monkeypatch, stream):
    plain = _lines(monkeypatch, None)[stream]
    coloured = _lines(monkeypatch, "truecolor")[stream]
    assert "\x1b[" in coloured
    assert _without_styles(coloured) == plain


def _without_styles(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_the_lines_of_a_turn_are_shown_together_and_in_order_with_progress(monkeypatch):
    shown = io.BytesIO()
    stdout = io.TextIOWrapper(shown, encoding="utf-8")  # block-buffered, as stdout into a file or pipe
    monkeypatch.setattr(common, "out", Console(file=stdout, soft_wrap=True, highlight=False, emoji=False,
                                               color_system=None, force_terminal=False))
    listener = common.ConsoleListener()
    listener.started(ACTION)
    assert shown.getvalue() == b""  # held until the turn ends
    listener.progress(ACTION, "packer starts")  # an action's progress is shown at once, after what came before
    assert shown.getvalue().decode().splitlines() == ["ami.web[1]: build...", "ami.web[1]: packer starts"]
    listener.finished(ACTION, 1.25)
    listener.flush()
    assert shown.getvalue().decode().splitlines()[-1] == "ami.web[1]: built (1.2s)"
