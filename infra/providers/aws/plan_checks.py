"""What a plan is about to use in AWS that nodes.json names and nothing infra makes: checked
when planning, so a typo is a located error before anything changes, not a failed apply.

Security groups by name (a launch template's, a one-off instance's, a packer build's) and the
source AMI a build or a launch template starts from. Only what the plan would make or change is
looked at: a source AMI deregistered since its group was built breaks nothing until the group
builds again. At most one describe per region for each, and none for a plan that changes neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from infra.aws.session import aws_errors, paginate
from infra.providers.aws.common import AwsContext
from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action
from infra.reconciler.refs import parse_ref

CHANGING = frozenset({ActionKind.CREATE, ActionKind.UPDATE, ActionKind.REPLACE, ActionKind.BUILD})
# The kinds whose making uses the group's security groups (by name) and an image.
USES = {"launch_template": "image_id", "instance": "image_id", "ami": "source_image"}


class PlanChecks:
    """Of no kind (it never observes nor applies): it offers check_plan to the engine."""

    kinds: frozenset[str] = frozenset()

    def __init__(self, context: AwsContext) -> None:
        self.config, self.clients = context.config, context.clients

    def check_plan(self, actions: Iterable[Action]) -> None:
        """Raise a located ConfigError for the first security group or source AMI the plan would
        use that does not exist in its region."""
        names: dict[str, dict[str, str]] = defaultdict(dict)  # region -> name -> the group naming it
        images: dict[str, dict[str, str]] = defaultdict(dict)  # region -> image id -> the group
        for action in actions:
            if action.kind not in USES or action.action not in CHANGING or action.after is None:
                continue
            region = self.clients.region or action.after.get("region") or "us-east-1"
            for name in self._security_groups(action):
                names[region].setdefault(name, action.group)
            image = action.after.get(USES[action.kind])
            if isinstance(image, str) and image.startswith("ami-") and parse_ref(image) is None:
                images[region].setdefault(image, action.group)
        for region, named in names.items():
            self._check_security_groups(region, named)
        for region, wanted in images.items():
            self._check_images(region, wanted)

    def _security_groups(self, action: Action) -> list[str]:
        groups = (action.after or {}).get("security_groups")
        if groups is None and action.kind == "ami" and action.group in self.config.groups:
            groups = self.config.groups[action.group].security_groups  # the build instance joins them
        return [g for g in groups or [] if isinstance(g, str) and not g.startswith("sg-")]

    def _check_security_groups(self, region: str, named: dict[str, str]) -> None:
        missing = self._missing(region, "security groups", "describe_security_groups", "SecurityGroups",
                                "GroupName", "group-name", named)
        if missing:
            group = named[missing[0]]
            raise self.config.error_at(group, ["security_groups"], f"group {group!r}: security_groups: no security "
                                                                   f"group {', '.join(missing)} in {region}; make it "
                                                                   f"there, or fix the name")

    def _check_images(self, region: str, wanted: dict[str, str]) -> None:
        missing = self._missing(region, "the source AMIs", "describe_images", "Images", "ImageId", "image-id", wanted)
        if missing:
            group = wanted[missing[0]]
            raise self.config.error_at(group, ["source_ami"], f"group {group!r}: source_ami: {missing[0]} does not "
                                                              f"exist in {region}, or this account may not use it; "
                                                              f"name an AMI there")

    def _missing(self, region: str, what: str, method: str, key: str, field: str, filter_name: str,
                 wanted: dict[str, str]) -> list[str]:
        """Which of `wanted` (by `field`) one paginated, filtered describe does not find in `region`."""
        with aws_errors(f"describe {what} in {region}"):
            found = {item[field] for item in paginate(self.clients.client("ec2", region), method, key,
                                                       Filters=[{"Name": filter_name, "Values": sorted(wanted)}])}
        return [name for name in wanted if name not in found]
