"""What the autoscaling group tests share: the example nodes.json with short roll timings, and
reading ASGs back from moto."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_helpers import run_infra

BEE = "12_04-bee"


def example(repo: Path, *, packer: bool = False, **autoscale) -> dict:
    """The example nodes.json, with small roll timings (and without AMI builds unless `packer`)."""
    nodes = json.loads((Path(__file__).resolve().parents[2] / "nodes.json").read_text())
    if not packer:
        nodes["__base__"]["packer"] = False
    nodes[BEE]["autoscale"].update({"timeout": 1, "healthy_deadline": 3, **autoscale})
    write(repo, nodes)
    return nodes


def write(repo: Path, nodes: dict) -> None:
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))


def asgs(autoscaling, group: str | None = None) -> list[dict]:
    found = autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    return [g for g in found if group is None or tags(g).get("group") == group]


def tags(resource: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def applied(capsys, *args: str):
    result = run_infra(capsys, "apply", "--auto-approve", *args)
    assert result.code == 0, result.err + result.out
    return result


def no_changes(capsys) -> None:
    result = run_infra(capsys, "plan", "--detailed-exitcode")
    assert result.code == 0, result.out
    assert "No changes" in result.out
