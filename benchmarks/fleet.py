"""Generated nodes.json files for the benchmarks: N groups in a fixed mix of shapes.

Every 20 groups hold:
- 16 plain packer groups: a role, a Packer template and an AMI each (no instances);
- 2 packer groups with an autoscaling group of 0..1 nodes (desired 0, so moto launches nothing):
  also a dna file, a launch template and an ASG;
- 1 group built from the previous group's AMI (`"source_ami": "@..."`): a graph edge between groups;
- 1 group that boots its source AMI as it is (`"packer": false`) in an ASG of 0..1 nodes.

So 85% of groups build an AMI with packer, 15% run an ASG, and every group has a role. The shapes
repeat by position, so 10 groups already hold one of each kind of group but the plain one twice.

`every_asg` is the other fleet: every group a packer group with an ASG (the seed's 12_04-bee, N
times), the shape whose plans are the largest (6 resources a group).

All groups are in us-east-1, or spread over `regions` of REGIONS (up to four) by blocks of 20, so
each region holds the same mix and a group built from another group's AMI is in that group's region.
"""

from __future__ import annotations

from typing import Any

REGION = "us-east-1"
REGIONS = (REGION, "us-west-2", "eu-west-1", "ap-southeast-2")
BLOCK = 20  # groups in a row in one region, when spread
SOURCE_AMI = "ami-0a1b2c3d"
SECURITY_GROUPS = ["external", "internal"]
AUTOSCALED = {3, 13}  # positions (index % 20) of the packer groups with an ASG
FROM_GROUP = {6}  # built from the previous group's AMI
NO_PACKER = {9}  # boots the source AMI in an ASG


def group_name(index: int) -> str:
    return f"svc{index:05d}"


def shape(index: int, every_asg: bool = False) -> str:
    if every_asg:
        return "packer+asg"
    position = index % 20
    if position in AUTOSCALED:
        return "packer+asg"
    if position in FROM_GROUP:
        return "packer from @group"
    if position in NO_PACKER:
        return "asg, no packer"
    return "packer"


def region(index: int, regions: int = 1) -> str:
    return REGIONS[(index // BLOCK) % regions]


def nodes_json(groups: int, regions: int = 1, every_asg: bool = False) -> dict[str, Any]:
    document: dict[str, Any] = {"__base__": {
        "autoscale": False,
        "type": "amazon-ebs",
        "region": REGION,
        "instance_type": "m5.large",
        "source_ami": SOURCE_AMI,
        "security_groups": SECURITY_GROUPS,
        "default_attributes": {"environment": "benchmark", "ntp": {"servers": ["0.pool.ntp.org", "1.pool.ntp.org"]}},
        "run_list": ["recipe[base::server]", "recipe[base::collect-services]"],
        "post_run_list": ["recipe[base::notify-services]", "recipe[sudo]"],
        "tags": {"team": "platform"},
    }}
    for index in range(groups):
        name = group_name(index)
        kind = shape(index, every_asg)
        group: dict[str, Any] = {
            "description": f"benchmark group {index} ({kind})",
            "instance_type": ("m5.large", "c5.xlarge", "r5.large")[index % 3],
            "default_attributes": {"app": {"name": name, "workers": 2 + index % 7}},
            "run_list": [f"recipe[bench-service::{name}]", "recipe[app::deploy]"],
            "tags": {"cost-center": f"cc-{index % 17}"},
        }
        if kind in ("packer+asg", "asg, no packer"):
            group["autoscale"] = {"node_min": 0, "node_max": 1, "timeout": 0, "healthy_deadline": 60}
        if kind == "packer from @group":
            group["source_ami"] = "@" + group_name(index - 1)
        if kind == "asg, no packer":
            group["packer"] = False
        if region(index, regions) != REGION:
            group["region"] = region(index, regions)
        document[name] = group
    return document


def mix(groups: int, every_asg: bool = False) -> dict[str, int]:
    counts: dict[str, int] = {}
    for index in range(groups):
        counts[shape(index, every_asg)] = counts.get(shape(index, every_asg), 0) + 1
    return counts


def resources(groups: int, every_asg: bool = False) -> int:
    """How many resources the desired graph holds for `groups` groups."""
    per_shape = {"packer": 3, "packer from @group": 3, "packer+asg": 6, "asg, no packer": 4}
    return sum(per_shape[shape(i, every_asg)] for i in range(groups))
