"""The project name: declared in nodes.json, or derived so two repositories never share one by accident."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from infra.config import load_config, parse_config
from infra.config.project import MAX_LENGTH, PROJECT_NAME, default_project, slug
from infra.errors import ConfigError

NODES = '{"__settings__": %s, "web": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"}}'


def git_repo(path: Path, remote: str | None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if remote:
        subprocess.run(["git", "-C", str(path), "remote", "add", "origin", remote], check=True)
    return path


def test_a_declared_project_is_used_as_it_is(tmp_path):
    (tmp_path / "nodes.json").write_text(NODES % '{"project": "acme-ops"}')
    config = load_config(tmp_path / "nodes.json")
    assert config.owner == "acme-ops" and config.project.explicit


@pytest.mark.parametrize("remote", ["git@github.com:acme/ops.git", "https://github.com/acme/ops.git",
                                    "https://token:x-oauth@github.com/acme/ops", "ssh://git@github.com:22/acme/ops.git",
                                    "/srv/git/acme/ops.git"])
def test_every_clone_of_one_repository_derives_the_same_project_from_its_remote(tmp_path, remote):
    repo = git_repo(tmp_path / "clone", remote)
    project = default_project(repo)
    assert project.name == "acme-ops"
    assert "git remote origin" in project.source and "x-oauth" not in project.source


def test_two_nodes_json_in_one_repository_are_two_projects(tmp_path):
    repo = git_repo(tmp_path / "ops", "git@github.com:acme/ops.git")
    (repo / "staging").mkdir()
    assert default_project(repo).name == "acme-ops"
    assert default_project(repo / "staging").name == "acme-ops-staging"


def test_without_a_remote_two_folders_of_the_same_name_are_two_projects(tmp_path):
    first, second = tmp_path / "a" / "ops", tmp_path / "b" / "ops"
    first.mkdir(parents=True)
    git_repo(second, None)
    names = {default_project(first).name, default_project(second).name}
    assert len(names) == 2 and all(name.startswith("ops-") for name in names)
    assert default_project(first) == default_project(first)  # stable on one machine


def test_load_config_derives_the_project_when_nodes_json_names_none(tmp_path):
    repo = git_repo(tmp_path / "ops", "git@github.com:acme/ops.git")
    (repo / "nodes.json").write_text(NODES % "{}")
    config = load_config(repo / "nodes.json")
    assert config.owner == "acme-ops" and not config.project.explicit


def test_a_derived_name_is_always_a_valid_project_name():
    for parts in (["Acme Corp", "Ops.Repo"], ["a" * 80], ["--", "__"], ["x" * 30, "y" * 30]):
        name = slug(parts)
        assert PROJECT_NAME.fullmatch(name) and len(name) <= MAX_LENGTH
    assert slug(["x" * 30, "y" * 30]) != slug(["x" * 30, "y" * 31])  # long names keep apart


@pytest.mark.parametrize("bad", ['"acme.ops"', '"-acme"', '""', '"' + "a" * 41 + '"', '"ops\\n"', "42"])
def test_a_bad_project_name_is_a_located_error(bad):
    with pytest.raises(ConfigError, match="project"):
        parse_config(NODES % f'{{"project": {bad}}}')
