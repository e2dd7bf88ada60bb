"""`make demo` and its setup scripts, run as a user runs them (bash, their output in one log file),
with stand-ins for infra, python and pip: what they print, in order, with nothing lost."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FAKE_INFRA = """#!/usr/bin/env bash
# The demo's infra: each command says its name; `sandbox start` ends as the real one does.
case "$1" in
  validate) echo "nodes.json is valid" ;;
  sandbox) [ "$2" = start ] && { echo "sandbox started on 127.0.0.1:5999"
                                  echo "export AWS_ENDPOINT_URL=http://127.0.0.1:5999"; } ;;
  role:create) echo "endpoint is $AWS_ENDPOINT_URL"; exit 3 ;;  # the demo stops here
esac
"""

FAKE_PYTHON = """#!/usr/bin/env bash
# `python -m venv DIR` makes DIR/bin/pip, which takes a few seconds and logs what it was asked.
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin"
  printf '#!/usr/bin/env bash\\necho "pip $*"\\nsleep 3\\n' > "$3/bin/pip"
  printf '[ -z "$PIP_FAILS" ] || { echo "no such package"; exit 1; }\\n' >> "$3/bin/pip"
  chmod +x "$3/bin/pip"
fi
"""


def _copy(tmp_path: Path, *names: str) -> Path:
    """A copy of the repository's scripts (they cd to their parent) and nodes.json."""
    (tmp_path / "scripts").mkdir()
    for name in names:
        shutil.copy(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    shutil.copy(ROOT / "nodes.json", tmp_path / "nodes.json")
    return tmp_path


def _stand_in(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


def _run_logged(command: list[str], log: Path, **env: str) -> int:
    """As `command > log 2>&1`: stdout and stderr into one file."""
    with log.open("w") as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env},
                              timeout=120).returncode


def test_the_demo_log_keeps_its_first_lines(tmp_path):
    repo = _copy(tmp_path, "demo.sh")
    infra = _stand_in(tmp_path / "infra", FAKE_INFRA)
    log = tmp_path / "demo.log"
    assert _run_logged(["bash", str(repo / "scripts" / "demo.sh")], log, INFRA=str(infra)) == 3
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert [line.replace("\033[1m", "").replace("\033[0m", "") for line in lines] == [
        "== validate nodes.json", "nodes.json is valid",
        "== start the sandbox (moto on 127.0.0.1, seeded with the source AMI)",
        "sandbox started on 127.0.0.1:5999", "export AWS_ENDPOINT_URL=http://127.0.0.1:5999",
        "== role:create: Chef roles", "endpoint is http://127.0.0.1:5999"], lines


def test_the_install_says_what_it_does_while_pip_works(tmp_path):
    repo = _copy(tmp_path, "install.sh", "progress.sh")
    python = _stand_in(tmp_path / "python", FAKE_PYTHON)
    log = tmp_path / "make.log"
    venv = tmp_path / "venv"
    assert _run_logged(["bash", str(repo / "scripts" / "install.sh")], log, PYTHON=str(python), VENV=str(venv),
                       INFRA_PROGRESS_EVERY="1") == 0
    said = log.read_text()
    assert said.startswith(f"setting up {venv}: a virtualenv holding infra and its development tools\n"), said
    assert f"installing infra and its dependencies with pip, about a minute the first time (its log: {venv}" in said
    assert "  ... still at it (" in said and said.endswith(f"{venv} is ready\n")
    assert "pip install -e .[dev]" in (venv / "pip-install.log").read_text()  # pip's own words: in its log


def test_a_failing_pip_shows_the_end_of_its_log(tmp_path):
    repo = _copy(tmp_path, "install.sh", "progress.sh")
    python = _stand_in(tmp_path / "python", FAKE_PYTHON)
    log = tmp_path / "make.log"
    assert _run_logged(["bash", str(repo / "scripts" / "install.sh")], log, PYTHON=str(python),
                       VENV=str(tmp_path / "venv"), PIP_FAILS="1") == 1
    said = log.read_text()
    assert "failed (exit 1); the end of" in said and "no such package" in said
    assert "is ready" not in said
