"""Run the infra command line in-process, as a user would, and capture what it prints."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from infra.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_infra(capsys: pytest.CaptureFixture, *args: str) -> Result:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
