"""Every module infra imports at run time is a dependency pyproject.toml declares.

A dependency that only arrives through another package (click through moto's server, before
typer carried its own) works in the dev virtualenv and fails on a user's plain install. This
reads every import under infra/ and asks which distribution provides it.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Modules that only the sandbox's server process imports: they come with the `sandbox` extra.
SANDBOX_ONLY = {"infra/sandbox/server.py", "infra/sandbox/quick_requests.py"}


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0]).lower()


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, optional) for each absolute import; optional: under `except ImportError`."""
    tree = ast.parse(path.read_text(), str(path))
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers):
            optional.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], id(node) in optional) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], id(node) in optional))
    return found


def test_every_runtime_import_is_a_declared_dependency():
    project = _project()
    declared = {_name(r) for r in project["dependencies"]}
    sandbox = {_name(r) for r in project["optional-dependencies"]["sandbox"]}
    providers = packages_distributions()
    undeclared = []
    for path in sorted((ROOT / "infra").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for module, optional in _imports(path):
            if module == "infra" or module in sys.stdlib_module_names or optional:
                continue
            distributions = {_name(d) for d in providers.get(module, [module])}
            allowed = declared | (sandbox if relative in SANDBOX_ONLY else set())
            if not distributions & allowed:
                undeclared.append(f"{relative}: {module} ({', '.join(sorted(distributions))})")
    assert not undeclared, "imported but not declared in pyproject.toml: " + "; ".join(undeclared)


def test_the_sandbox_extra_is_what_the_dev_extra_and_the_suite_use():
    project = _project()
    assert project["name"] == "infra-fleet"
    assert "infra-fleet[sandbox]" in project["optional-dependencies"]["dev"]
    assert any(_name(r) == "moto" for r in project["optional-dependencies"]["sandbox"])
    assert not any(_name(r) == "moto" for r in project["dependencies"])


def test_the_sandbox_says_in_one_line_what_to_install_when_moto_is_missing(monkeypatch, tmp_path):
    import importlib.util

    import pytest

    from infra.errors import InfraError
    from infra.sandbox.launcher import MotoServer

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "moto" else find_spec(name, *a))
    monkeypatch.setattr("infra.sandbox.launcher.subprocess.Popen", lambda *a, **k: pytest.fail("started a server"))
    with pytest.raises(InfraError) as raised:
        MotoServer(tmp_path / "sandbox").start(["ami-1ebb2077"])
    assert str(raised.value) == ("the sandbox needs moto's server, which is not installed; install it with: "
                                 "pip install 'infra-fleet[sandbox]'")
    assert not (tmp_path / "sandbox").exists()
