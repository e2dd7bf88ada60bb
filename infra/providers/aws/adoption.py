"""What was made without infra, found for `infra import` and for the plan's hints.

`find` describes one resource a user names by its id (an ASG by its name), in one or two calls,
and reads it the way its kind's provider observes it (their `observed_*` functions): as it is,
and as it will be once tagged as the group's (`group`, `infra:managed`, `infra:owner`, and
`infra:name` for an instance), which is what the state records and the next plan finds.

`look_alikes` is the hint: for the ASGs and launch templates a plan would make, an untagged ASG
named like the group, or a launch template named like the group's (`<group>`, `<project>.<group>`),
is reported as importable, never adopted by itself. Only what the plan would make is looked for
(nothing once a fleet exists): by name when that takes a call or two per kind and region (100 ASG
names, 200 template names a call), else in one scan of the region's ASGs (or templates), pages of
100 (200), matched by name here: a cold plan of 10,000 groups asked 200 calls by name, and a scan
of a region that holds no ASGs yet is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from infra.aws.session import aws_errors, paginate
from infra.errors import ProviderError
from infra.providers.aws import asg_observed, images, instances, launch_templates
from infra.providers.aws.common import (
    GROUP_TAG,
    AwsContext,
    available_zones,
    identity_tags,
    managed_tags,
    security_group_names,
    tag_dict,
    tag_list,
)
from infra.reconciler.graph import MANAGED_TAG
from infra.reconciler.resources import Observed, Resource, Unowned

OPTIONS = {"asg": "--asg", "launch_template": "--launch-template", "ami": "--ami", "instance": "--instance"}
ASG_NAMES, TEMPLATE_NAMES = 100, 200  # the most one describe takes (names, and items a page)
BY_NAME_CALLS = 2  # more calls by name than this per kind and region: scan the region instead


@dataclass
class Found:
    """One resource named for import: what it is, its tags as found, and how it reads as found
    (`before`) and once tagged as the group's (`after`)."""

    description: str
    tags: dict[str, str]
    before: Observed
    after: Observed
    launched_by: str = ""  # an instance an ASG launched: that ASG's name


class ImportFinder:
    """Not the provider of any kind: it only finds, for the import command and the plan."""

    kinds: frozenset[str] = frozenset()

    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients

    @property
    def owner(self) -> str:
        return self.context.owner

    def find_importable(self, kind: str, ident: str, group: str, region: str, wanted: dict[str, Any],
                        name: str = "") -> Found:
        """The resource of `kind` named `ident` in `region`; a one-line error when there is none."""
        region = self.clients.region or region
        identity = identity_tags(group, self.owner) | ({instances.NAME_TAG: name} if name else {})
        return _FINDERS[kind](self, ident, region, wanted, identity)

    def _asg(self, name: str, region: str, wanted: dict[str, Any], identity: dict[str, str]) -> Found:
        with aws_errors(f"describe autoscaling group {name}"):
            found = self.clients.client("autoscaling", region).describe_auto_scaling_groups(
                AutoScalingGroupNames=[name])["AutoScalingGroups"]
        found = [group for group in found if not group.get("Status")]  # being deleted: gone
        if not found:
            raise ProviderError(f"no autoscaling group named {name} in {region}")
        raw = found[0]
        every_zone = available_zones(self.clients, region) if wanted.get("zones") == [] else []

        def read(tags: dict[str, str]) -> Observed:
            return asg_observed.observed(region, {**raw, "Tags": tag_list(tags)}, wanted, every_zone)

        tags = tag_dict(raw.get("Tags"))
        return Found(f"autoscaling group {name} in {region}", tags, read(tags), read({**tags, **identity}))

    def _launch_template(self, ident: str, region: str, wanted: dict[str, Any], identity: dict[str, str]) -> Found:
        ec2 = self.clients.client("ec2", region)
        by = {"LaunchTemplateIds": [ident]} if ident.startswith("lt-") else {"LaunchTemplateNames": [ident]}
        with aws_errors(f"describe launch template {ident} in {region}"):
            templates = ec2.describe_launch_templates(**by)["LaunchTemplates"]
            if not templates:  # AWS says NotFound; an AWS-compatible endpoint may answer with none
                raise ProviderError(f"no launch template {ident} in {region}")
            versions = ec2.describe_launch_template_versions(LaunchTemplateId=templates[0]["LaunchTemplateId"],
                                                             Versions=["$Default"])["LaunchTemplateVersions"]
        if not versions:
            raise ProviderError(f"launch template {ident} in {region} has no default version to import")
        template, version = templates[0], versions[0]
        groups = version.get("LaunchTemplateData", {}).get("SecurityGroupIds", [])
        names = security_group_names(self.clients, region, groups)

        def read(tags: dict[str, str]) -> Observed:
            return launch_templates.observed_template(region, template, version, tags, names, wanted)

        tags = tag_dict(template.get("Tags"))
        described = f"launch template {template['LaunchTemplateName']} ({template['LaunchTemplateId']}) in {region}"
        return Found(described, tags, read(tags), read({**tags, **identity}))

    def _ami(self, image_id: str, region: str, wanted: dict[str, Any], identity: dict[str, str]) -> Found:
        with aws_errors(f"describe {image_id} in {region}"):
            found = self.clients.client("ec2", region).describe_images(ImageIds=[image_id], Owners=["self"])["Images"]
        account = self._account()  # Owners=self is the question; not every endpoint answers it so
        found = [raw for raw in found if raw.get("State") in images.USABLE_STATES and raw.get("OwnerId") == account]
        if not found:
            raise ProviderError(f"no AMI {image_id} of this account in {region} (a usable one: not failed or "
                                f"deregistered; an AMI shared by another account cannot be imported, copy it first)")
        raw = found[0]

        def read(tags: dict[str, str]) -> Observed:
            image = images.image_of({**raw, "Tags": tag_list(tags)})
            return images.observed_image(region, image, [image])

        tags = tag_dict(raw.get("Tags"))
        return Found(f"AMI {image_id} ({raw.get('Name', '')}) in {region}", tags, read(tags),
                     read({**tags, **identity}))

    def _account(self) -> str:
        with aws_errors("ask STS which account the credentials are of"):
            return str(self.clients.client("sts").get_caller_identity()["Account"])

    def _instance(self, instance_id: str, region: str, wanted: dict[str, Any], identity: dict[str, str]) -> Found:
        with aws_errors(f"describe {instance_id} in {region}"):
            found = [i for r in self.clients.client("ec2", region).describe_instances(
                InstanceIds=[instance_id])["Reservations"] for i in r["Instances"]
                if i.get("State", {}).get("Name") in instances.LIVE_STATES]
        if not found:
            raise ProviderError(f"no live instance {instance_id} in {region}")
        raw = found[0]
        names = security_group_names(self.clients, region, [g["GroupId"] for g in raw.get("SecurityGroups", [])])

        def read(tags: dict[str, str]) -> Observed:
            # Its dna file is named after its group: as found, the group it is imported into.
            found = {**raw, "Tags": tag_list({GROUP_TAG: identity[GROUP_TAG], **tags})}
            seen = instances.observed_instance(region, found, names, wanted, self.context.config.layout.instance_dna)
            return seen.model_copy(update={"attributes": {**seen.attributes, "tags": managed_tags(tags)}})

        tags = tag_dict(raw.get("Tags"))
        return Found(f"instance {instance_id} in {region}", tags, read(tags), read({**tags, **identity}),
                     launched_by=tags.get("aws:autoscaling:groupName", ""))

    def look_alikes(self, resources: Iterable[Resource]) -> list[Unowned]:
        """Importable resources named like the ASGs and launch templates in `resources` (those a plan
        would make): made without infra, so never this project's until imported."""
        by_region: dict[str, list[Resource]] = {}
        for resource in resources:
            if resource.kind not in ("asg", "launch_template"):
                continue  # nothing else is looked for: a plan of local files alone asks AWS nothing
            region = self.clients.region or resource.attributes.get("region") or "us-east-1"
            by_region.setdefault(region, []).append(resource)
        found: list[Unowned] = []
        for region, wanted in sorted(by_region.items()):
            found += self._asgs_named(region, [r.group for r in wanted if r.kind == "asg"])
            found += self._templates_named(region, [r.group for r in wanted if r.kind == "launch_template"])
        return found

    def _asgs_named(self, region: str, groups: list[str]) -> list[Unowned]:
        client = self.clients.client("autoscaling", region)
        pages = {"PaginationConfig": {"PageSize": ASG_NAMES}}
        if len(groups) > ASG_NAMES * BY_NAME_CALLS:
            wanted = set(groups)
            listed = [group for group in paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups", **pages)
                      if group["AutoScalingGroupName"] in wanted]
        else:
            listed = [group for start in range(0, len(groups), ASG_NAMES)
                      for group in paginate(client, "describe_auto_scaling_groups", "AutoScalingGroups",
                                            AutoScalingGroupNames=groups[start:start + ASG_NAMES], **pages)]
        found = [group for group in listed
                 if MANAGED_TAG not in tag_dict(group.get("Tags")) and not group.get("Status")]
        return [Unowned(address=f"asg.{group['AutoScalingGroupName']}", owner="",
                        description=f"autoscaling group {group['AutoScalingGroupName']} in {region}",
                        importable=f"--asg {group['AutoScalingGroupName']}") for group in found]

    def _templates_named(self, region: str, groups: list[str]) -> list[Unowned]:
        names = {name: group for group in groups for name in (group, f"{self.owner}.{group}")}
        listed = sorted(names)
        ec2 = self.clients.client("ec2", region)
        if len(listed) > TEMPLATE_NAMES * BY_NAME_CALLS:
            templates = [template for template in paginate(ec2, "describe_launch_templates", "LaunchTemplates",
                                                           PaginationConfig={"PageSize": TEMPLATE_NAMES})
                         if template["LaunchTemplateName"] in names]
        else:
            templates = [template for start in range(0, len(listed), TEMPLATE_NAMES)
                         for template in paginate(ec2, "describe_launch_templates", "LaunchTemplates", Filters=[
                             {"Name": "launch-template-name", "Values": listed[start:start + TEMPLATE_NAMES]}])]
        found = [template for template in templates if MANAGED_TAG not in tag_dict(template.get("Tags"))]
        return [Unowned(address=f"launch_template.{names[t['LaunchTemplateName']]}", owner="",
                        description=f"launch template {t['LaunchTemplateName']} ({t['LaunchTemplateId']}) in {region}",
                        importable=f"--launch-template {t['LaunchTemplateId']}") for t in found]


_FINDERS = {"asg": ImportFinder._asg, "launch_template": ImportFinder._launch_template, "ami": ImportFinder._ami,
            "instance": ImportFinder._instance}
