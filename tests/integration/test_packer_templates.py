"""Every template infra renders passes the real `packer validate` (no AWS needed to validate)."""

import json
from pathlib import Path

import pytest

from infra.errors import ProviderError
from infra.providers import packer
from tests.cli_helpers import run_infra

NODES = {
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["external"],
                 "run_list": ["recipe[seatgeek::base-server]"], "tags": {"team": "ops"}},
    "base": {"description": "the base image", "ami_keep": 3},
    "web": {"source_ami": "@base", "instance_type": "c5.large", "security_groups": ["www"]},
    "api": {"source_ami": "@web"},
    "eu": {"region": "eu-west-1"},
    "plain": {"packer": False},
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An ops repository with a chef repo's cookbooks/ (chef-solo's validation wants it to exist)."""
    (tmp_path / "nodes.json").write_text(json.dumps(NODES))
    (tmp_path / "cookbooks").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def validate_all(repo: Path) -> list[str]:
    names = sorted(p.name for p in (repo / "packer").glob("*.json"))
    for name in names:
        packer.validate(Path("packer") / name, cwd=repo)  # raises with packer's complaints
    return names


def test_every_rendered_template_passes_packer_validate(repo, capsys):
    packer.binary()  # fails (does not skip) when packer is missing
    result = run_infra(capsys, "packer:create")
    assert result.code == 0, result.err
    assert run_infra(capsys, "role:create").code == 0  # chef-solo's roles_path
    assert validate_all(repo) == ["api.json", "base.json", "eu.json", "web.json"]  # "packer": false renders none


def test_the_example_nodes_json_validates_too(repo, capsys):
    example = Path(__file__).resolve().parents[2] / "nodes.json"
    (repo / "nodes.json").write_text(example.read_text())
    assert run_infra(capsys, "packer:create").code == 0
    assert run_infra(capsys, "role:create").code == 0
    assert validate_all(repo) == ["12_04-bee.json", "12_04-www.json"]


def test_a_users_template_override_is_used_and_validated(repo, capsys):
    shipped = Path(packer.__file__).resolve().parents[1] / "templates" / "packer.json.j2"
    override = shipped.read_text().replace('"ssh_username": {{ group.ssh_username | packer_json }},',
                                           '"ssh_username": "ec2-user", "ebs_optimized": true,')
    (repo / "templates").mkdir()
    (repo / "templates" / "packer.json.j2").write_text(override)
    assert run_infra(capsys, "packer:create", "base").code == 0
    assert run_infra(capsys, "role:create", "base").code == 0
    template = json.loads((repo / "packer" / "base.json").read_text())
    assert template["builders"][0]["ssh_username"] == "ec2-user"
    assert template["builders"][0]["ebs_optimized"] is True
    packer.validate(Path("packer/base.json"), cwd=repo)


def test_validate_reports_packers_complaints_in_one_line(repo):
    (repo / "broken.json").write_text(json.dumps({"builders": [{"type": "amazon-ebs", "region": "us-east-1",
                                                                "instance_type": "m1.large", "ssh_username": "u",
                                                                "ami_name": "x"}]}))
    with pytest.raises(ProviderError) as failed:
        packer.validate(Path("broken.json"), cwd=repo)
    assert "A source_ami or source_ami_filter must be specified" in str(failed.value)
    assert "\n" not in str(failed.value)
