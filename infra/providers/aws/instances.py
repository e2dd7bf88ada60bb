"""One-off EC2 instances (`instance:create`): `instance.<group>.<name>`, each with its own dna file.

An instance is infra's when it carries `infra:managed=true` and `infra:name`; the name tag of
infra (not `Name`, which users may edit) gives its address. Instances an ASG launched carry the
group's tags too, but never `infra:name`, so they are not mistaken for one-off instances. One the
state records and the scan did not list (AWS lists what was just launched late) is asked for by
id before a plan calls it gone (unlisted.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import botocore.exceptions

from infra.aws.consistency import until_visible
from infra.aws.session import aws_errors, error_code, paginate
from infra.config.chef import dna_document
from infra.errors import ProviderError
from infra.fsutil import atomic_write_json
from infra.providers.aws.common import (
    GROUP_TAG,
    MANAGED,
    AwsContext,
    ObservedPerRegion,
    as_config_names,
    available_zones,
    by_owner,
    identity_tags,
    managed_tags,
    security_group_ids,
    security_group_names,
    tag_dict,
    tag_list,
    unowned_of,
)
from infra.providers.aws.rollout import Interrupted, Step, Waiter
from infra.providers.aws.unlisted import Lookup
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import MANAGED_TAG, OWNER_TAG
from infra.reconciler.plan import Action, changed_attributes
from infra.reconciler.resources import Observation, Observed, address_of, split_address

NAME_TAG = "infra:name"
LIVE_STATES = ["pending", "running", "stopping", "stopped"]
RUNNING_WITHIN = 600  # seconds a new instance has to leave `pending`


# What the state records and the scan did not list, by id (common.py's ObservedPerRegion.confirm); EC2
# refuses a whole call naming one instance it does not know (or not yet).
BY_ID = Lookup("ec2", "describe_instances", "InstanceIds", "Reservations", "InstanceId", output="id", batch=200,
               gone=("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"), within="Instances")


class InstancesProvider(ObservedPerRegion):
    kinds = frozenset({"instance"})
    lookup = BY_ID

    def __init__(self, context: AwsContext) -> None:
        self.root = Path(context.root)
        self.context, self.clients = context, context.clients
        self.dna_path = context.config.layout.instance_dna  # (group, instance id) -> its dna file

    def interrupt(self) -> None:
        self.clients.interrupt()  # a wait for AWS to show what was just made ends

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        ec2 = self.clients.client("ec2", region)
        instances = [instance for reservation in paginate(ec2, "describe_instances", "Reservations", Filters=[
            MANAGED, {"Name": "tag-key", "Values": [NAME_TAG]},
            {"Name": "instance-state-name", "Values": LIVE_STATES}]) for instance in reservation.get("Instances", [])
            if tag_dict(instance.get("Tags")).get(GROUP_TAG)]
        return self._read(region, instances, wanted)

    def _observed_by_id(self, region: str, items: list[dict[str, Any]],
                        wanted: dict[str, dict[str, Any]]) -> dict[str, Observed]:
        """Instances the scan did not list, described by id: those the scan's filters would have
        listed (a terminated one is gone), read as the scan's are."""
        listed = [instance for instance in items if instance.get("State", {}).get("Name") in LIVE_STATES
                  and (tags := tag_dict(instance.get("Tags"))).get(MANAGED_TAG) == "true" and NAME_TAG in tags
                  and tags.get(GROUP_TAG)]
        return self._read(region, listed, wanted).found

    def _read(self, region: str, instances: list[dict[str, Any]], wanted: dict[str, dict[str, Any]]) -> Observation:
        """This project's `instances` of `region` (the newest at each address), and the others' as unowned."""
        owners = by_owner(instances, lambda instance: tag_dict(instance.get("Tags")), self.owner)
        theirs = [(_address(i), owner, _described(region, i["InstanceId"])) for owner, i in owners.theirs]
        ours, untagged = _newest(owners.ours), _newest(owners.untagged)
        ids = [g["GroupId"] for i in (*ours.values(), *untagged.values()) for g in i.get("SecurityGroups", [])]
        names = security_group_names(self.clients, region, ids)

        def observed(found: dict[str, dict[str, Any]]) -> dict[str, Observed]:
            return {address: observed_instance(region, instance, names, wanted.get(address, {}), self.dna_path)
                    for address, instance in found.items()}

        return Observation(found=observed(ours), unowned=unowned_of(
            observed(untagged), lambda o: _described(region, o.attributes["id"]), theirs, wanted))

    # -- helpers for instance:create ---------------------------------------------------------

    def zones(self, region: str) -> list[str]:
        return available_zones(self.clients, region)

    def ensure_key_pair(self, region: str, name: str, public_key: str) -> bool:
        """Import the key pair `name` from `public_key` unless AWS has it; True when imported."""
        ec2 = self.clients.client("ec2", region)
        try:
            with aws_errors(f"describe key pair {name}"):
                ec2.describe_key_pairs(KeyNames=[name])
            return False
        except ProviderError as exc:
            if "InvalidKeyPair.NotFound" not in str(exc):
                raise
        with aws_errors(f"import key pair {name}"):
            return self._imported(ec2, name, public_key)

    def _imported(self, ec2: Any, name: str, public_key: str) -> bool:
        """Import the key pair; False when AWS has it already (a describe just before may not have
        shown it yet: eventual consistency)."""
        try:
            ec2.import_key_pair(KeyName=name, PublicKeyMaterial=public_key.encode(),
                                TagSpecifications=[{"ResourceType": "key-pair", "Tags": tag_list(
                                    {MANAGED_TAG: "true", OWNER_TAG: self.owner})}])
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "InvalidKeyPair.Duplicate":
                return False
            raise
        return True

    # -- apply -------------------------------------------------------------------------------

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        before = action.before or {}
        region: str = cast(str, attributes.get("region") or before.get("region"))  # every resource has one
        ec2 = self.clients.client("ec2", region)
        name = split_address(action.address)[2] or action.group
        if action.action is ActionKind.DELETE:
            self._terminate(ec2, action.group, before["id"], progress)
            return {}
        if action.action is ActionKind.ADOPT:
            self._adopt(ec2, action, before["id"], name, progress)
            return dict(action.outputs)
        if action.action is ActionKind.UPDATE:
            self._update(ec2, region, before, attributes, action)
            progress(f"updated {before['id']} in place")
            return {"id": before["id"], "zone": before.get("zone"),
                    "dna": self.dna_path(action.group, before["id"])}
        outputs = self._launch(ec2, region, action.group, name, attributes, progress)
        if action.action is ActionKind.REPLACE and before.get("id"):
            self._terminate(ec2, action.group, before["id"], progress)
        gone = action.outputs.get("id")  # the instance this one stands in for, terminated by hand
        if gone and gone != outputs["id"] and (self.root / self.dna_path(action.group, gone)).exists():
            (self.root / self.dna_path(action.group, gone)).unlink()
            progress(f"removed {self.dna_path(action.group, gone)}: {gone} is gone")
        return outputs

    def _adopt(self, ec2: Any, action: Action, instance_id: str, name: str, progress: Progress) -> None:
        """Tag an instance made before owner tags, or without infra, as this project's one-off
        instance `name` of the group, and give it its dna file when it has none."""
        with aws_errors(f"tag {instance_id}"):
            ec2.create_tags(Resources=[instance_id], Tags=tag_list({**identity_tags(action.group, self.owner),
                                                                     NAME_TAG: name}))
        progress(f"tagged {instance_id} {OWNER_TAG}={self.owner}, {GROUP_TAG}={action.group}, {NAME_TAG}={name}")
        if not (self.root / self.dna_path(action.group, instance_id)).exists():
            progress(f"wrote {self._write_dna(action.group, instance_id, name)}")

    def _launch(self, ec2: Any, region: str, group: str, name: str, attributes: dict[str, Any],
                progress: Progress) -> dict[str, Any]:
        tags = tag_list({**attributes["tags"], NAME_TAG: name})
        request: dict[str, Any] = {
            "ImageId": attributes["image_id"], "InstanceType": attributes["instance_type"],
            "MinCount": 1, "MaxCount": 1, "Placement": {"AvailabilityZone": attributes["zone"]},
            "UserData": attributes.get("user_data") or "",
            "TagSpecifications": [{"ResourceType": "instance", "Tags": tags},
                                  {"ResourceType": "volume", "Tags": tags}],
        }
        if attributes.get("key_name"):
            request["KeyName"] = attributes["key_name"]
        if attributes.get("security_groups"):
            request["SecurityGroupIds"] = security_group_ids(self.clients, region, attributes["security_groups"])
        if attributes.get("iam_instance_profile"):
            request["IamInstanceProfile"] = {"Name": attributes["iam_instance_profile"]}
        # One token for every attempt: should an attempt that AWS answered with "not yet" (a key
        # pair or instance profile just made) have launched after all, the next returns that instance.
        request["ClientToken"] = str(uuid.uuid4())
        with aws_errors(f"launch instance {name}"):
            instance = until_visible(lambda: ec2.run_instances(**request)["Instances"][0],
                                     what=f"what instance {name} launches with to show", service="ec2",
                                     patience=self.clients.patience, progress=progress)
        instance_id = instance["InstanceId"]
        progress(f"launched {instance_id} ({attributes['instance_type']}) in {attributes['zone']}; waiting until "
                 f"it runs")
        self._wait_running(ec2, instance_id, progress)
        path = self._write_dna(group, instance_id, name)
        progress(f"{instance_id} is running; wrote {path}")
        return {"id": instance_id, "zone": attributes["zone"], "dna": path}

    def _wait_running(self, ec2: Any, instance_id: str, progress: Progress) -> None:
        """Wait until the instance runs (it is `pending` for a while, and unknown by its id at
        first), saying how it is at least every 10 s; stopped by Ctrl-C or SIGTERM."""
        patience = self.clients.patience
        waiter = Waiter(progress, patience.clock, patience.pause, patience.stopped)

        def step(elapsed: float, left: float) -> Step:
            with aws_errors(f"describe {instance_id}"):
                found = until_visible(lambda: ec2.describe_instances(InstanceIds=[instance_id])["Reservations"],
                                      what=f"instance {instance_id} to show", service="ec2", patience=patience,
                                      progress=progress)
            state = next((i.get("State", {}).get("Name", "") for r in found for i in r.get("Instances", [])), "")
            if state in ("shutting-down", "terminated", "stopping", "stopped"):
                raise ProviderError(f"{instance_id} is {state} instead of running; see why with aws ec2 "
                                    f"describe-instances --instance-ids {instance_id} (StateReason)")
            return Step(f"{instance_id}: {state or 'not shown yet'}; waiting, {left:.0f} s left", key=state,
                        done=state == "running")

        try:
            last = waiter.wait("the launch", RUNNING_WITHIN, step)
        except Interrupted:
            raise ProviderError(f"infra was stopped (Ctrl-C or SIGTERM) while {instance_id} started; it is kept, "
                                f"apply again to record it") from None
        if not last.done:
            raise ProviderError(f"{instance_id} did not run within {RUNNING_WITHIN}s ({last.key}); apply again to "
                                f"wait longer, or terminate it")

    def _write_dna(self, group: str, instance_id: str, name: str) -> str:
        """The instance's chef-solo attributes (its dna file); returns its path."""
        path = self.dna_path(group, instance_id)
        try:
            atomic_write_json(self.root / path, dna_document(name, group))
        except OSError as exc:
            raise ProviderError(f"{path}: cannot write: {exc.strerror}") from None
        return path

    def _update(self, ec2: Any, region: str, before: dict[str, Any], attributes: dict[str, Any],
                action: Action) -> None:
        changed = set(changed_attributes(action.changes))
        fixed = changed - {"tags", "security_groups"}
        if fixed:
            raise ProviderError(f"{action.address}: cannot change {', '.join(sorted(fixed))} of a running "
                                f"instance; terminate it and run instance:create again")
        instance_id = before["id"]
        with aws_errors(f"update {instance_id}"):
            if "security_groups" in changed:
                ec2.modify_instance_attribute(InstanceId=instance_id, Groups=security_group_ids(
                    self.clients, region, attributes["security_groups"]))
            if "tags" in changed:
                gone = [k for k in before.get("tags", {}) if k not in attributes["tags"]]
                if gone:
                    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": k} for k in gone])
                ec2.create_tags(Resources=[instance_id], Tags=tag_list(attributes["tags"]))

    def _terminate(self, ec2: Any, group: str, instance_id: str, progress: Progress) -> None:
        with aws_errors(f"terminate {instance_id}"):
            ec2.terminate_instances(InstanceIds=[instance_id])
        (self.root / self.dna_path(group, instance_id)).unlink(missing_ok=True)
        progress(f"terminated {instance_id}; removed {self.dna_path(group, instance_id)}")


def _address(instance: dict[str, Any]) -> str:
    tags = tag_dict(instance.get("Tags"))
    return address_of("instance", tags[GROUP_TAG], tags[NAME_TAG])


def _newest(instances: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The newest live instance at each address (one made again after the first was lost)."""
    found: dict[str, dict[str, Any]] = {}
    for instance in instances:
        address = _address(instance)
        if address not in found or str(instance.get("LaunchTime")) > str(found[address].get("LaunchTime")):
            found[address] = instance
    return found


def _described(region: str, instance_id: str) -> str:
    return f"instance {instance_id} in {region}"


def observed_instance(region: str, instance: dict[str, Any], names: dict[str, str], wanted: dict[str, Any],
              dna_path: Callable[[str, str], str]) -> Observed:
    tags = tag_dict(instance.get("Tags"))
    ids = [g["GroupId"] for g in instance.get("SecurityGroups", [])]
    profile = (instance.get("IamInstanceProfile") or {}).get("Arn")
    zone = instance.get("Placement", {}).get("AvailabilityZone")
    attributes = {
        "region": region,
        "image_id": instance.get("ImageId"),
        "instance_type": instance.get("InstanceType"),
        "zone": zone,
        "key_name": instance.get("KeyName"),
        "security_groups": as_config_names(ids, names, wanted.get("security_groups")),
        "iam_instance_profile": profile.rsplit("/", 1)[-1] if profile else None,
        # User data is read only at first boot and cannot be described in bulk: what was asked for.
        "user_data": wanted.get("user_data"),
        "tags": managed_tags(tags),
        "id": instance["InstanceId"],  # not desired, so never compared; apply needs it
        "state": instance.get("State", {}).get("Name"),
        "dna": dna_path(tags[GROUP_TAG], instance["InstanceId"]),  # removed with it
    }
    return Observed(attributes=attributes, outputs={"id": instance["InstanceId"], "zone": zone,
                                                    "dna": dna_path(tags[GROUP_TAG], instance["InstanceId"])})
