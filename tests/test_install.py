"""A plain install works: the package, without extras, in a fresh virtualenv, as docs/ci.md installs it.

The dev virtualenv holds the dev and sandbox extras and everything they bring, so an import that
only they satisfy (click, once typer stopped bringing it) passes every other test and fails every
user. Here the package is built from a copy of its sources (nothing from this checkout on the path)
and installed with pip from the package index into a new virtualenv, and `infra` runs from there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infra import __version__
from tests.conftest import LOCAL

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.install


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a new virtualenv holding only infra and its declared dependencies."""
    base = tmp_path_factory.mktemp("install")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "infra", source / "infra", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, env=_clean_env())
    bin_dir = base / "venv" / "bin"
    installed = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(source)],
                               capture_output=True, text=True, env=_clean_env(), cwd=base, timeout=600)
    assert installed.returncode == 0, f"pip install of the package failed:\n{installed.stdout}{installed.stderr}"
    return bin_dir


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without what points into the dev virtualenv or at a cloud."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
           and not k.startswith(("AWS_", "INFRA_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if not p.startswith(str(ROOT)))
    return {**env, **extra}


def infra(fresh: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # A closed port: any command here that tried AWS would fail, not reach a real account.
    env = _clean_env(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="none", AWS_SECRET_ACCESS_KEY="none")
    return subprocess.run([str(fresh / "infra"), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_the_plain_install_has_no_extras_and_no_checkout_on_its_path(fresh, tmp_path):
    probe = subprocess.run([str(fresh / "python"), "-c", "import infra, importlib.util as u; "
                            "print(infra.__file__); print(u.find_spec('moto') is None)"],
                           capture_output=True, text=True, cwd=tmp_path, env=_clean_env(), check=True)
    where, no_moto = probe.stdout.split()
    assert not where.startswith(str(ROOT)) and no_moto == "True"


def test_help_version_validate_and_a_local_plan_run_from_the_plain_install(fresh, tmp_path):
    assert "plan" in infra(fresh, tmp_path, "--help").stdout
    version = infra(fresh, tmp_path, "--version")
    assert (version.returncode, version.stdout) == (0, f"infra {__version__}\n"), version.stderr

    shutil.copy(ROOT / "nodes.json", tmp_path / "nodes.json")
    valid = infra(fresh, tmp_path, "validate")
    assert valid.returncode == 0 and "nodes.json is valid: 2 group(s)" in valid.stdout, valid.stderr

    (tmp_path / "nodes.json").write_text(json.dumps(LOCAL))
    planned = infra(fresh, tmp_path, "plan", "--out", "local.plan")
    assert planned.returncode == 0, planned.stderr
    assert "Plan: 2 to add, 0 to change, 0 to destroy, 0 to build." in planned.stdout
    applied = infra(fresh, tmp_path, "apply", "local.plan")
    assert applied.returncode == 0 and (tmp_path / "roles" / "role-web.json").is_file(), applied.stderr


def test_sandbox_start_without_the_extra_says_what_to_install(fresh, tmp_path):
    shutil.copy(ROOT / "nodes.json", tmp_path / "nodes.json")
    result = infra(fresh, tmp_path, "sandbox", "start")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: the sandbox needs moto's server, which is not installed; install it with: "
        "pip install 'infra-fleet[sandbox]'"]
