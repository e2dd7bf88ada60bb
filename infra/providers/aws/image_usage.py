"""What uses an AMI: launch templates, autoscaling groups and instances. Retention asks first.

An autoscaling group also holds on to the AMI its predecessor ran (its `infra:previous` tag):
what `infra rollback` returns to, which retention must not remove while it is the way back.

A handful of paginated calls per region whatever the number of images: every launch
template's latest and default versions at once, every autoscaling group (and the launch
template version or launch configuration each one launches from), and the live instances
started from the images in question.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.aws.session import AwsClients, paginate
from infra.providers.aws import asg
from infra.providers.aws.asg import PREVIOUS_TAG, previous_of
from infra.providers.aws.common import tag_dict
from infra.state.model import ResourceState

# Instances that still need their image: a stopped instance boots from it again.
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
FILTER_VALUES = 195  # EC2 takes at most 200 values in one filter
SHORTCUTS = ("$Latest", "$Default")


@dataclass
class Recorded:
    """What the state records that holds on to AMIs, for the listings that may not show it yet (an
    ASG or an instance made seconds ago: docs/aws-behaviour.md): the AMI applied for each group, the
    ASGs by region (asked for by name when not listed), the one-off instances by the AMI they were
    launched from."""

    amis: set[str] = field(default_factory=set)
    asgs: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    instances: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, resources: Iterable[tuple[str, ResourceState]], region: Callable[[Any], str]) -> Recorded:
        """From the state's `resources` (address, resource); `region` names the region a recorded one
        is in (None: the default region)."""
        recorded = cls()
        for address, resource in resources:
            if resource.kind == "ami" and isinstance(resource.outputs.get("image_id"), str):
                recorded.amis.add(resource.outputs["image_id"])
            elif resource.kind == "asg" and isinstance(resource.outputs.get("name"), str):
                recorded.asgs[region(resource.attributes.get("region"))].append(resource.outputs["name"])
            elif resource.kind == "instance" and isinstance(resource.attributes.get("image_id"), str):
                recorded.instances[resource.attributes["image_id"]].append(address)
        return recorded


def images_in_use(clients: AwsClients, region: str, image_ids: Iterable[str], *,
                  recorded: Recorded | None = None) -> dict[str, list[str]]:
    """For each of `image_ids` that something uses: who, in words ("launch template web (version 3)").
    What the state `recorded` counts too: its ASGs are asked for by name when the listing leaves them
    out, and a one-off instance it records uses the AMI it was launched from even while the listing
    of instances does not show it yet."""
    ids = set(image_ids)
    if not ids:
        return {}
    recorded = recorded or Recorded()
    users: dict[str, list[str]] = defaultdict(list)
    ec2 = clients.client("ec2", region)
    for image, user in (*_instances(ec2, ids), *_recorded_instances(recorded, ids), *_launch_templates(ec2, ids),
                        *_autoscaling_groups(ec2, clients.client("autoscaling", region),
                                             _groups(clients, region, recorded.asgs.get(region, [])), ids)):
        if user not in users[image]:
            users[image].append(user)
    return dict(users)


def _recorded_instances(recorded: Recorded, ids: set[str]) -> Iterable[tuple[str, str]]:
    for image in sorted(ids & recorded.instances.keys()):
        for address in recorded.instances[image]:
            yield image, f"{address} (a one-off instance the state records, launched from it)"


def _instances(ec2: Any, ids: set[str]) -> Iterable[tuple[str, str]]:
    ordered = sorted(ids)
    for start in range(0, len(ordered), FILTER_VALUES):
        filters = [{"Name": "image-id", "Values": ordered[start:start + FILTER_VALUES]},
                   {"Name": "instance-state-name", "Values": LIVE_STATES}]
        for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=filters):
            for instance in reservation.get("Instances", []):
                if instance.get("ImageId") in ids:
                    state = instance.get("State", {}).get("Name", "?")
                    yield instance["ImageId"], f"instance {instance['InstanceId']} ({state})"


def _launch_templates(ec2: Any, ids: set[str]) -> Iterable[tuple[str, str]]:
    """The latest and default version of every launch template in the region, in one listing."""
    for version in paginate(ec2, "describe_launch_template_versions", "LaunchTemplateVersions",
                            Versions=list(SHORTCUTS), PaginationConfig={"PageSize": 200}):
        image = (version.get("LaunchTemplateData") or {}).get("ImageId")
        if image in ids:
            yield image, f"launch template {version.get('LaunchTemplateName')} (version {version.get('VersionNumber')})"


def _groups(clients: AwsClients, region: str, recorded: Iterable[str]) -> list[dict[str, Any]]:
    """Every ASG of the region, listed, and those of `recorded` the listing left out, by name."""
    listed = list(paginate(clients.client("autoscaling", region), "describe_auto_scaling_groups", "AutoScalingGroups"))
    names = {group["AutoScalingGroupName"] for group in listed}
    unlisted = sorted(set(recorded) - names)
    return [*listed, *asg.BY_NAME.describe(clients, region, unlisted).values()] if unlisted else listed


def _autoscaling_groups(ec2: Any, autoscaling: Any, every: list[dict[str, Any]],
                        ids: set[str]) -> Iterable[tuple[str, str]]:
    configurations: dict[str, list[str]] = defaultdict(list)  # launch configuration -> groups
    templates: dict[tuple[str, str, str], list[str]] = defaultdict(list)  # (id, name, version) -> groups
    for group in every:
        name = group["AutoScalingGroupName"]
        previous = previous_of(tag_dict(group.get("Tags")).get(PREVIOUS_TAG))
        if previous and previous["image_id"] in ids:
            yield previous["image_id"], (f"autoscaling group {name} (its rollback target: launch template "
                                         f"version {previous['launch_template_version']})")
        if group.get("LaunchConfigurationName"):
            configurations[group["LaunchConfigurationName"]].append(name)
        spec = group.get("LaunchTemplate") or (((group.get("MixedInstancesPolicy") or {}).get("LaunchTemplate") or {})
                                               .get("LaunchTemplateSpecification"))
        if spec:
            version = spec.get("Version") or "$Default"  # an ASG without a version launches the default
            key = (spec.get("LaunchTemplateId", ""), spec.get("LaunchTemplateName", ""), version)
            templates[key].append(name)
    if configurations:
        for configuration in paginate(autoscaling, "describe_launch_configurations", "LaunchConfigurations",
                                      LaunchConfigurationNames=sorted(configurations)):
            if configuration.get("ImageId") in ids:
                for name in configurations[configuration["LaunchConfigurationName"]]:
                    yield configuration["ImageId"], (f"autoscaling group {name} (launch configuration "
                                                     f"{configuration['LaunchConfigurationName']})")
    for (template_id, template_name, version), groups in templates.items():
        which = {"LaunchTemplateId": template_id} if template_id else {"LaunchTemplateName": template_name}
        for found in paginate(ec2, "describe_launch_template_versions", "LaunchTemplateVersions", Versions=[version],
                              **which):
            image = (found.get("LaunchTemplateData") or {}).get("ImageId")
            if image in ids:
                for name in groups:
                    yield image, (f"autoscaling group {name} (launch template {found.get('LaunchTemplateName')} "
                                  f"version {found.get('VersionNumber')})")
