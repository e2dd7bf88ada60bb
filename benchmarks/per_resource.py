"""The baseline: a model of a per-resource refresh, on the fleet infra made, through the same endpoint.

    .venv/bin/python benchmarks/per_resource.py OPS_REPOSITORY [--parallelism 10]

What Terraform (and OpenTofu, and tools built the same way) does before it plans: every resource
in the state is read on its own, by the id the state recorded, as many at a time as its
`-parallelism` allows (10 unless told). This does that to infra's own state: one describe per AWS
resource by id (DescribeImages of one AMI id, DescribeLaunchTemplates of one template id,
DescribeAutoScalingGroups of one ASG name), and one read of each local file (a role, a Packer
template, a dna file, as Terraform's local_file reads its file), 10 at a time, in a fresh process
with boto3 and the same retries as infra. It prints what it did as one JSON object.

It is a model of that approach, not Terraform: it reads each resource once and compares nothing.
Terraform's AWS provider makes more requests than this for some kinds (reading a launch template
it also reads that template's latest version: two requests), and then still has to plan. So its
requests and time are a lower bound for a per-resource refresh of the same fleet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

TERRAFORM_PARALLELISM = 10  # terraform plan/apply -parallelism: "Limit the number of concurrent operations", default 10
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10}, max_pool_connections=TERRAFORM_PARALLELISM)


class Clients:
    def __init__(self) -> None:
        self._made: dict[tuple[str, str], Any] = {}
        self._session = boto3.session.Session()

    def __call__(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._made:  # made before the threads start (see prepare): boto3 sessions are not thread-safe
            self._made[key] = self._session.client(service, region_name=region, config=RETRIES)
        return self._made[key]


def reader(kind: str, recorded: dict[str, Any], root: Path, clients: Clients) -> Callable[[], int] | None:
    """How to refresh one recorded resource; it returns the AWS requests it made. None: nothing to read."""
    outputs, region = recorded.get("outputs") or {}, (recorded.get("attributes") or {}).get("region", "us-east-1")
    if kind == "ami" and outputs.get("image_id"):
        ec2 = clients("ec2", region)
        return lambda: _one(ec2.describe_images(ImageIds=[outputs["image_id"]])["Images"])
    if kind == "launch_template" and outputs.get("id"):
        ec2 = clients("ec2", region)
        return lambda: _one(ec2.describe_launch_templates(LaunchTemplateIds=[outputs["id"]])["LaunchTemplates"])
    if kind == "asg" and outputs.get("name"):
        autoscaling = clients("autoscaling", region)
        return lambda: _one(autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[outputs["name"]])["AutoScalingGroups"])
    if kind == "instance" and outputs.get("instance_id"):
        ec2 = clients("ec2", region)
        return lambda: _one(ec2.describe_instances(InstanceIds=[outputs["instance_id"]])["Reservations"])
    path = outputs.get("path") or (recorded.get("attributes") or {}).get("path")
    if path:
        return lambda: (json.loads((root / path).read_text()), 0)[1]
    return None


def _one(found: list[Any]) -> int:
    if len(found) != 1:
        raise SystemExit(f"per_resource.py: a recorded resource was not found ({len(found)} answers)")
    return 1


def refresh(root: Path, parallelism: int) -> dict[str, Any]:
    state = json.loads((root / ".infra" / "state.json").read_text())
    clients = Clients()
    reads: dict[str, list[Callable[[], int]]] = {}
    for recorded in state["resources"].values():
        read = reader(recorded["kind"], recorded, root, clients)
        if read is not None:
            reads.setdefault(recorded["kind"], []).append(read)
    everything = [read for kind in sorted(reads) for read in reads[kind]]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        requests = sum(pool.map(lambda read: read(), everything))
    return {"resources": len(everything), "requests": requests,
            "by_kind": {k: len(v) for k, v in sorted(reads.items())},
            "refresh_seconds": time.perf_counter() - started, "parallelism": parallelism}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the ops repository infra applied (its .infra/state.json)")
    parser.add_argument("--parallelism", type=int, default=TERRAFORM_PARALLELISM)
    args = parser.parse_args(argv)
    json.dump(refresh(args.root, args.parallelism), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
