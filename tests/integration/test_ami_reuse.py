"""Going back to an earlier nodes.json reuses the AMI built from it, on moto with the real packer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.providers import packer
from tests.cli_helpers import run_infra

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "run_list": ["recipe[base]"]}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    packer.binary()  # fails (does not skip) when packer is missing
    return ops_repo


def write(repo: Path, instance_type: str) -> None:
    (repo / "nodes.json").write_text(json.dumps({"__base__": BASE, "web": {"instance_type": instance_type}}))


def web_amis(ec2) -> dict[str, str]:
    images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group", "Values": ["web"]}])["Images"]
    return {i["ImageId"]: {t["Key"]: t["Value"] for t in i["Tags"]}["infra:source_hash"] for i in images}


def test_reverting_nodes_json_reuses_the_ami_built_from_it_and_retention_keeps_it(repo, ec2, capsys):
    write(repo, "m1.large")
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [first] = web_amis(ec2)
    write(repo, "c5.large")
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert len(web_amis(ec2)) == 2

    write(repo, "m1.large")  # back to the first config: its AMI is there, though not the newest
    planned = run_infra(capsys, "plan")
    assert "will be built" not in planned.out and "1 to build" not in planned.out, planned.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert len(web_amis(ec2)) == 2  # nothing built
    assert run_infra(capsys, "state", "show", "ami.web", "--output", "json").out.count(first) == 1
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
    assert run_infra(capsys, "drift").code == 0

    cleaned = run_infra(capsys, "packer:clean", "-n", "1")  # the newest stays, and so does the one in use
    assert cleaned.code == 0 and f"kept {first}" in cleaned.out and "ami.web (the AMI infra applied" in cleaned.out
    assert first in web_amis(ec2)
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
