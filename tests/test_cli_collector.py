"""A command runs with fewer garbage collections (see COLLECT_EVERY), and leaves the thresholds as it found them."""

from __future__ import annotations

import gc
import importlib
import weakref

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



class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_command_run_in_process_freezes_nothing_so_its_cycles_are_freed(capsys):
    """Only the command line's own process (`main()`, which ends with the command) freezes what a
    plan made; a caller that goes on (`main([...])`, the tests) keeps its garbage collectable."""
    assert run_infra(capsys, "--version").code == 0  # main([...]) ran: in process
    with app.collector_paused():
        cycle = _Cycle()
        made = weakref.ref(cycle)
        del cycle
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert made() is None


def test_the_command_lines_own_process_freezes_what_a_plan_made(monkeypatch):
    monkeypatch.setattr(app, "_command_line", True)
    try:
        with app.collector_paused():
            cycle = _Cycle()
            made = weakref.ref(cycle)
            del cycle
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert made() is not None  # frozen: the collector does not walk it
    finally:
        gc.unfreeze()
