"""Text from nodes.json reaches the AMI as written: packer's template engine evaluates none of it.

Packer 1.6 renders an AMI's tags again and again until they stop changing, so no escape in the
template survives: infra writes `{{` with an invisible word joiner between the braces, and tags
the AMI with the exact text after the build.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.providers import packer
from infra.rendering import packer_text
from tests.cli_helpers import run_infra

TRICKY = "{{ template_dir }} and {{ oops"
NODES = {
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "run_list": ["recipe[base]"]},
    "web": {"description": f"says {TRICKY}", "tags": {"note": TRICKY, "k}}": "}}{{{"}},
}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    packer.binary()  # fails (does not skip) when packer is missing
    (ops_repo / "nodes.json").write_text(json.dumps(NODES))
    (ops_repo / "cookbooks").mkdir()
    return ops_repo


def test_braces_in_a_description_or_tags_reach_the_ami_literally(repo, ec2, capsys):
    assert run_infra(capsys, "packer:create").code == 0 and run_infra(capsys, "role:create").code == 0
    packer.validate(Path("packer/web.json"), cwd=repo)  # `{{ oops` would not even parse
    [builder] = json.loads((repo / "packer" / "web.json").read_text())["builders"]
    assert packer_text(builder["ami_description"]) == f"infra: web: says {TRICKY}"  # moto keeps no description
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.out + result.err
    [image] = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group", "Values": ["web"]}])["Images"]
    tags = {t["Key"]: t["Value"] for t in image["Tags"]}
    assert tags["note"] == TRICKY and tags["k}}"] == "}}{{{"
    [snapshot] = ec2.describe_snapshots(SnapshotIds=[m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"]
                                                     if "Ebs" in m])["Snapshots"]
    assert {t["Key"]: t["Value"] for t in snapshot["Tags"]}["note"] == TRICKY
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0  # the tags read back as wanted
    assert run_infra(capsys, "drift").code == 0
