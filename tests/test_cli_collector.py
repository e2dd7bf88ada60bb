"""A command runs with fewer garbage collections (see COLLECT_EVERY), and leaves the thresholds as it found them."""

from __future__ import annotations

import gc
import importlib

from tests.cli_helpers import run_infra

app = importlib.import_module("infra.cli.app")  # the module; infra.cli.app is the typer app


class _Recording:
    def __init__(self) -> None:
        self.thresholds: tuple[int, ...] = ()

    def main(self, **_: object) -> int:
        self.thresholds = gc.get_threshold()
        return 0


def test_a_command_collects_less_often_and_restores_the_thresholds(capsys, monkeypatch):
    before = gc.get_threshold()
    recording = _Recording()
    monkeypatch.setattr(app, "command", lambda: recording)
    result = run_infra(capsys, "validate")
    assert result.code == 0
    assert recording.thresholds == app.COLLECT_EVERY != before
    assert gc.get_threshold() == before
