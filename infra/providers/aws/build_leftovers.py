"""What a packer build leaves when it is killed before it can clean up: its build instance (with
its temporary security group and an AMI made from it but not yet tagged, with its snapshots) and
its temporary key pair. Found by the marks infra's Packer template gives them, removed by the next
apply.

A build instance carries the tags `infra:build=<group>` and `infra:owner=<project>` (the template's
`run_tags`); an AMI made from it gets its tags only once it is available, and packer terminates
the instance only after that, so an AMI without tags made from a leftover instance is one whose
build was killed; a temporary key pair is named `infra.<project>.<group>.<uuid>` (the template's
`temporary_key_pair_name`). No build of a project runs while one of its applies holds the state
lock, so whatever of these an apply finds is left over: `build_leftover.<group>.<id>`, planned for
deletion. A temporary security group goes with its instance; one made before packer launched the
instance cannot be told from another's and stays (packer names it `packer_<uuid>`).
"""

from __future__ import annotations

from typing import Any

from infra.aws.session import aws_errors, paginate, wait_until
from infra.errors import ProviderError
from infra.providers.aws.common import AwsContext, ObservedPerRegion, tag_dict
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import MANAGED_TAG, OWNER_TAG
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observation, Observed, address_of

BUILD_TAG = "infra:build"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
TEMPORARY = "packer_"  # what packer calls the key pairs and security groups it names itself


def key_pair_prefix(owner: str, group: str = "") -> str:
    """infra.<project>.<group>.: neither name holds a "."; the template adds packer's {{uuid}}."""
    return f"infra.{owner}." + (f"{group}." if group else "")


class BuildLeftoversProvider(ObservedPerRegion):
    kinds = frozenset({"build_leftover"})

    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        ec2 = self.clients.client("ec2", region)
        found: dict[str, Observed] = {}
        instances = list(self._instances(ec2))
        images = self._unfinished_images(ec2, [instance["InstanceId"] for _, instance in instances])
        for group, instance in instances:
            temporary = [g["GroupId"] for g in instance.get("SecurityGroups", [])
                         if g.get("GroupName", "").startswith(TEMPORARY)]
            found[address_of("build_leftover", group, instance["InstanceId"])] = Observed(attributes={
                "region": region, "instance": instance["InstanceId"], "key_pair": instance.get("KeyName"),
                "security_groups": temporary, "state": instance.get("State", {}).get("Name"),
                "images": images.get(instance["InstanceId"], [])})
        used = {o.attributes["key_pair"] for o in found.values()}
        prefix = key_pair_prefix(self.owner)
        with aws_errors("describe key pairs"):
            pairs = ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": [prefix + "*"]}])["KeyPairs"]
        for pair in pairs:
            name = pair["KeyName"]
            if name.startswith(prefix) and name not in used:
                group = name.removeprefix(prefix).split(".", 1)[0]
                found[address_of("build_leftover", group, name)] = Observed(attributes={"region": region,
                                                                                        "key_pair": name})
        return Observation(found=found)

    def _instances(self, ec2: Any):
        for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=[
                {"Name": "tag-key", "Values": [BUILD_TAG]}, {"Name": f"tag:{OWNER_TAG}", "Values": [self.owner]},
                {"Name": "instance-state-name", "Values": LIVE_STATES}]):
            for instance in reservation.get("Instances", []):
                yield tag_dict(instance.get("Tags")).get(BUILD_TAG, ""), instance

    @staticmethod
    def _unfinished_images(ec2: Any, instances: list[str]) -> dict[str, list[dict[str, Any]]]:
        """Instance id -> the untagged AMIs made from it (id, name, snapshots); asked only when
        there are leftover instances, which is seldom."""
        made: dict[str, list[dict[str, Any]]] = {}
        if not instances:
            return made
        for image in paginate(ec2, "describe_images", "Images", Owners=["self"],
                              Filters=[{"Name": "source-instance-id", "Values": instances}]):
            if MANAGED_TAG not in tag_dict(image.get("Tags")) and image.get("SourceInstanceId") in instances:
                made.setdefault(image["SourceInstanceId"], []).append({
                    "id": image["ImageId"], "name": image.get("Name"),
                    "snapshots": [m["Ebs"]["SnapshotId"] for m in image.get("BlockDeviceMappings", [])
                                  if m.get("Ebs", {}).get("SnapshotId")]})
        return made

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        before = action.before or {}
        if action.action is not ActionKind.DELETE:
            raise ProviderError(f"{action.address}: a build leftover is only ever removed")
        ec2 = self.clients.client("ec2", before["region"])
        for image in before.get("images") or []:
            with aws_errors(f"deregister {image['id']}"):
                ec2.deregister_image(ImageId=image["id"])
                for snapshot in image["snapshots"]:
                    ec2.delete_snapshot(SnapshotId=snapshot)
            progress(f"deregistered the unfinished AMI {image['id']} ({image['name']}) and deleted "
                     f"{len(image['snapshots'])} snapshot(s)")
        if before.get("instance"):
            self._terminate(ec2, before, progress)
        pair = before.get("key_pair")
        if pair and (pair.startswith(TEMPORARY) or pair.startswith(key_pair_prefix(self.owner))):
            with aws_errors(f"delete temporary key pair {pair}"):
                ec2.delete_key_pair(KeyName=pair)
            progress(f"deleted temporary key pair {pair}")
        return {}

    def _terminate(self, ec2: Any, before: dict[str, Any], progress: Progress) -> None:
        instance = before["instance"]
        with aws_errors(f"terminate build instance {instance}"):
            ec2.terminate_instances(InstanceIds=[instance])
            if before.get("security_groups"):  # a security group goes once nothing uses it
                wait_until(ec2, "instance_terminated", InstanceIds=[instance], delay=5, attempts=60)
        progress(f"terminated build instance {instance} ({before.get('state')})")
        for group_id in before["security_groups"]:
            with aws_errors(f"delete temporary security group {group_id}"):
                ec2.delete_security_group(GroupId=group_id)
            progress(f"deleted temporary security group {group_id}")
