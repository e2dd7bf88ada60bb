"""What the hostile sandbox's AWS has not caught up with yet: the clock of everything made.

AWS answers at once but shows what was just made only after a while, and to each service on its
own time. This module remembers when each launch template (and version), instance and AMI was
made or first seen, and from that says what a request may not see yet (`refused`) and how a
response should look now (`rewritten`): a launch template unknown to Auto Scaling, an instance or
AMI unknown by its id, a key pair unknown to RunInstances, an instance `pending`, a target
`initial`, an AMI `pending`, a launch that failed in one zone (its instance missing for a while,
a Failed scaling activity saying why), and a resource left out of the listings that find it by
filter or page through everything (`unlisted`: an ASG, a launch template, an AMI, an instance
RunInstances launched) for longer than it is unknown by id.

It sees requests and responses as the moto server's WSGI layer does (hostile.py): form
parameters in, XML out. It knows nothing of HTTP.
"""

from __future__ import annotations

import random
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

INSTANCE_ID = re.compile(r"<instanceId>(i-[0-9a-f]+)</instanceId>")
IMAGE_ID = re.compile(r"<imageId>(ami-[0-9a-f]+)</imageId>")
TEMPLATE_ID = re.compile(r"<launchTemplateId>(lt-[0-9a-f]+)</launchTemplateId>")
TEMPLATE_NAME = re.compile(r"<launchTemplateName>([^<]+)</launchTemplateName>")
KEY_NAME = re.compile(r"<keyName>([^<]+)</keyName>")
VERSION = re.compile(r"<(?:latestV|v)ersionNumber>(\d+)</")


@dataclass(frozen=True)
class Refusal:
    """An error answer: AWS does not see (yet) what the request names."""

    code: str
    message: str


@dataclass
class Instance:
    born: float  # first seen
    zone: str = ""
    asg: str = ""
    failed: bool = False  # its first launch failed (InsufficientInstanceCapacity); it shows up later


@dataclass
class World:
    """`lag`: seconds a resource is invisible by id and to other services; `scan_lag`: seconds an ASG,
    a launch template, an AMI or an instance RunInstances launched is left out of describes that list
    (no names or ids given); `pending`: seconds an instance is pending; `initial`: seconds after that
    a target stays `initial`; `ami_pending`: seconds an AMI is pending; `failed_launches`: the share
    of instances launched in a zone ending in `failing_zone` whose launch fails first and shows up
    `launch_retry` seconds later."""

    lag: float
    pending: float
    initial: float
    ami_pending: float
    failed_launches: float
    launch_retry: float
    failing_zone: str
    random: random.Random
    scan_lag: float = 0.0
    clock: Callable[[], float] = time.monotonic
    # Launch templates (id, name, id:version), AMIs, ASGs, instances RunInstances launched (not an ASG's).
    made: dict[str, float] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def clear(self) -> None:
        with self.lock:
            self.made.clear()
            self.instances.clear()

    # -- requests ----------------------------------------------------------------------------

    def refused(self, service: str, action: str, params: dict[str, str]) -> Refusal | None:
        """The answer AWS would give now to a request naming what it does not see yet; None: none."""
        with self.lock:
            if service == "autoscaling" and action in ("CreateAutoScalingGroup", "UpdateAutoScalingGroup"):
                return self._template_refused(params)
            if service != "ec2":
                return None
            if action == "ModifyLaunchTemplate" and params.get("SetDefaultVersion"):
                key = f"{params.get('LaunchTemplateId')}:{params['SetDefaultVersion']}"
                if self._young(key, self.lag):
                    return Refusal("InvalidLaunchTemplateId.VersionNotFound",
                                   f"Could not find launch template version {params['SetDefaultVersion']}")
            key_pair = params.get("KeyName", "")
            if action == "RunInstances" and key_pair and self._young(f"key-pair:{key_pair}", self.lag):
                return Refusal("InvalidKeyPair.NotFound", f"The key pair '{key_pair}' does not exist")
            ids = _numbered(params, "InstanceId" if action == "DescribeInstances" else
                            "ImageId" if action == "DescribeImages" else "ResourceId" if action == "CreateTags" else "")
            for found in ids:
                if found.startswith("i-") and self._instance_young(found):
                    return Refusal("InvalidInstanceID.NotFound", f"The instance ID '{found}' does not exist")
                if found.startswith("ami-") and self._young(found, self.lag):
                    return Refusal("InvalidAMIID.NotFound", f"The image id '[{found}]' does not exist")
        return None

    def _template_refused(self, params: dict[str, str]) -> Refusal | None:
        template = params.get("LaunchTemplate.LaunchTemplateId") or params.get("LaunchTemplate.LaunchTemplateName")
        if not template:
            return None
        version = params.get("LaunchTemplate.Version", "")
        if self._young(template, self.lag) or self._young(f"{template}:{version}", self.lag):
            what = "template ID" if template.startswith("lt-") else "template name"
            return Refusal("ValidationError", f"You must use a valid fully-formed launch template. The specified "
                                              f"launch template, with {what} {template}, does not exist.")
        return None

    def _young(self, key: str, seconds: float) -> bool:
        made = self.made.get(key)
        return made is not None and self.clock() < made + seconds

    def _instance_young(self, instance_id: str) -> bool:
        found = self.instances.get(instance_id)
        return found is not None and self.clock() < found.born + self.lag

    # -- responses ---------------------------------------------------------------------------

    def rewritten(self, service: str, action: str, params: dict[str, str], body: bytes) -> bytes:
        """Remember what the response shows was made; the response as AWS would give it now."""
        text = body.decode("utf-8", "replace")
        with self.lock:
            self._remember(action, text, params)
            edit = REWRITES.get((service, action))
            if edit is None:
                return body
            root = ET.fromstring(body)
            if not edit(self, root, params):
                return body
        return _serialised(root)

    def _remember(self, action: str, text: str, params: dict[str, str]) -> None:
        now = self.clock()
        if action == "CreateAutoScalingGroup" and params.get("AutoScalingGroupName"):  # its answer names nothing
            self.made.setdefault(f"asg:{params['AutoScalingGroupName']}", now)
        elif action in ("CreateLaunchTemplate", "CreateLaunchTemplateVersion"):
            template = TEMPLATE_ID.search(text)
            version = VERSION.search(text)
            if template and version:
                keys = [template.group(1), f"{template.group(1)}:{version.group(1)}"]
                name = TEMPLATE_NAME.search(text)
                if action == "CreateLaunchTemplate" and name:
                    keys += [name.group(1), f"{name.group(1)}:{version.group(1)}"]
                for key in keys:
                    self.made.setdefault(key, now)
        elif action in ("CreateImage", "CopyImage", "RegisterImage"):
            for image in IMAGE_ID.findall(text):
                self.made.setdefault(image, now)
        elif action == "ImportKeyPair":
            for name in KEY_NAME.findall(text):
                self.made.setdefault(f"key-pair:{name}", now)
        elif action == "RunInstances":
            for instance in INSTANCE_ID.findall(text):
                self.instances.setdefault(instance, Instance(born=now))
                self.made.setdefault(instance, now)

    def _seen_in_asg(self, instance_id: str, zone: str, asg: str) -> Instance:
        """An instance an ASG launched, first seen now: its launch fails first when it is unlucky."""
        found = self.instances.get(instance_id)
        if found is None:
            failed = zone.endswith(self.failing_zone) and self.random.random() < self.failed_launches
            found = self.instances[instance_id] = Instance(born=self.clock(), failed=failed)
        found.zone, found.asg = found.zone or zone, found.asg or asg
        return found

    def _up_at(self, instance: Instance) -> float:
        """When the instance exists for its ASG: at once, or after its failed launch was retried."""
        return instance.born + (self.launch_retry if instance.failed else 0.0)

    def _state(self, instance: Instance) -> str:
        """"missing" (a failed launch, not retried yet), "pending", "initial" (running, its target
        not yet through its health checks) or "ready"."""
        now, up = self.clock(), self._up_at(instance)
        if now < up:
            return "missing"
        if now < up + self.pending:
            return "pending"
        return "initial" if now < up + self.pending + self.initial else "ready"

    # -- the rewrites, one per kind of answer --------------------------------------------------

    def _asgs(self, root: ET.Element, params: dict[str, str]) -> bool:
        listing = not _numbered(params, "AutoScalingGroupNames.member")
        changed = False
        for group in root.iterfind(".//{*}AutoScalingGroups"):
            for asg in group.findall(_tag("member")):
                name = _text(asg, "AutoScalingGroupName")
                if listing and self._young(f"asg:{name}", self.scan_lag):
                    group.remove(asg)
                    changed = True
                    continue
                holder = asg.find(_tag("Instances"))
                for member in list(holder) if holder is not None else []:
                    instance = self._seen_in_asg(_text(member, "InstanceId"), _text(member, "AvailabilityZone"), name)
                    changed |= self._asg_instance(holder, member, instance)  # type: ignore[arg-type]
        return changed

    def _asg_instances(self, root: ET.Element, params: dict[str, str]) -> bool:
        changed = False
        for holder in root.iterfind(".//{*}AutoScalingInstances"):
            for member in list(holder):
                instance = self._seen_in_asg(_text(member, "InstanceId"), _text(member, "AvailabilityZone"),
                                             _text(member, "AutoScalingGroupName"))
                changed |= self._asg_instance(holder, member, instance)
        return changed

    def _asg_instance(self, holder: ET.Element, member: ET.Element, instance: Instance) -> bool:
        state = self._state(instance)
        if state == "missing":
            holder.remove(member)
            return True
        lifecycle = member.find(_tag("LifecycleState"))
        if state == "pending" and lifecycle is not None and lifecycle.text == "InService":
            lifecycle.text = "Pending"
            return True
        return False

    def _instances(self, root: ET.Element, params: dict[str, str]) -> bool:
        """A listing (no ids asked for) leaves out the instances RunInstances launched less than
        `scan_lag` ago (and a reservation left with none); an instance still pending shows so."""
        changed = False
        if not _numbered(params, "InstanceId") and self._unlisted(root, "instancesSet", "instanceId"):
            changed = True
            for holder in root.iterfind(".//{*}reservationSet"):
                for reservation in holder.findall(_tag("item")):
                    if not reservation.findall(f"{_tag('instancesSet')}/{_tag('item')}"):
                        holder.remove(reservation)
        for item in root.iterfind(".//{*}item"):
            instance_id, state = _text(item, "instanceId"), item.find(_tag("instanceState"))
            if not instance_id.startswith("i-") or state is None:
                continue
            found = self.instances.setdefault(instance_id, Instance(born=self.clock()))
            if self._state(found) in ("missing", "pending") and _text(state, "name") == "running":
                state.find(_tag("name")).text, state.find(_tag("code")).text = "pending", "0"  # type: ignore[union-attr]
                changed = True
        return changed

    def _targets(self, root: ET.Element, params: dict[str, str]) -> bool:
        changed = False
        for holder in root.iterfind(".//{*}TargetHealthDescriptions"):
            for member in list(holder):
                target = member.find(_tag("Target"))
                instance_id = _text(target, "Id") if target is not None else ""
                found = self.instances.setdefault(instance_id, Instance(born=self.clock()))
                state = self._state(found)
                health = member.find(_tag("TargetHealth"))
                if state == "missing":
                    holder.remove(member)
                    changed = True
                elif state != "ready" and health is not None and _text(health, "State") == "healthy":
                    _set(health, "State", "initial")
                    _set(health, "Reason", "Elb.RegistrationInProgress")
                    _set(health, "Description", "Target registration is in progress")
                    changed = True
        return changed

    def _templates(self, root: ET.Element, params: dict[str, str]) -> bool:
        """A listing (no ids or names asked for) leaves out the templates made less than `scan_lag` ago."""
        if _numbered(params, "LaunchTemplateId") or _numbered(params, "LaunchTemplateName"):
            return False
        return self._unlisted(root, "launchTemplates", "launchTemplateId")

    def _unlisted(self, root: ET.Element, holder_tag: str, id_tag: str) -> bool:
        """Leave out of a listing's `holder_tag` the items whose `id_tag` was made less than `scan_lag` ago."""
        changed = False
        for holder in root.iterfind(f".//{{*}}{holder_tag}"):
            for item in holder.findall(_tag("item")):
                if self._young(_text(item, id_tag), self.scan_lag):
                    holder.remove(item)
                    changed = True
        return changed

    def _images(self, root: ET.Element, params: dict[str, str]) -> bool:
        changed = False
        if not _numbered(params, "ImageId"):
            changed = self._unlisted(root, "imagesSet", "imageId")
        for item in root.iterfind(".//{*}item"):
            image_id, state = _text(item, "imageId"), item.find(_tag("imageState"))
            if image_id.startswith("ami-") and state is not None and state.text == "available" \
                    and self._young(image_id, self.ami_pending):
                state.text = "pending"
                changed = True
        return changed

    def _activities(self, root: ET.Element, params: dict[str, str]) -> bool:
        """A Failed activity for each unlucky launch of the ASG asked about, as AWS records it."""
        asg = params.get("AutoScalingGroupName", "")
        holder = next(root.iterfind(".//{*}Activities"), None)
        failed = [(instance_id, i) for instance_id, i in self.instances.items() if i.failed and i.asg == asg]
        if holder is None or not failed:
            return False
        namespace = holder.tag[:holder.tag.index("}") + 1] if holder.tag.startswith("{") else ""
        for instance_id, instance in failed:
            member = ET.SubElement(holder, f"{namespace}member")
            started = datetime.now(UTC) - timedelta(seconds=self.clock() - instance.born)
            for key, value in (("ActivityId", f"hostile-{instance_id}"), ("AutoScalingGroupName", asg),
                               ("Description", "Launching a new EC2 instance.  Status Reason: We currently do not "
                                               "have sufficient capacity in the Availability Zone you requested."),
                               ("Cause", f"At {started:%Y-%m-%dT%H:%M:%SZ} an instance was started in response to a "
                                         f"difference between desired and actual capacity."),
                               ("StartTime", f"{started:%Y-%m-%dT%H:%M:%S.000Z}"),
                               ("EndTime", f"{started:%Y-%m-%dT%H:%M:%S.000Z}"),
                               ("StatusCode", "Failed"), ("Progress", "100"),
                               ("StatusMessage", f"We currently do not have sufficient capacity in the Availability "
                                                 f"Zone you requested ({instance.zone}). Our system will be working "
                                                 f"on provisioning additional capacity. Launching EC2 instance "
                                                 f"failed.")):
                ET.SubElement(member, f"{namespace}{key}").text = value
        return True


REWRITES = {
    ("autoscaling", "DescribeAutoScalingGroups"): World._asgs,
    ("autoscaling", "DescribeAutoScalingInstances"): World._asg_instances,
    ("autoscaling", "DescribeScalingActivities"): World._activities,
    ("ec2", "DescribeInstances"): World._instances,
    ("ec2", "DescribeImages"): World._images,
    ("ec2", "DescribeLaunchTemplates"): World._templates,
    ("elasticloadbalancing", "DescribeTargetHealth"): World._targets,
}


def _numbered(params: dict[str, str], name: str) -> list[str]:
    """The values of a query list parameter: InstanceId.1, InstanceId.2, ..."""
    return [value for key, value in params.items() if name and key.startswith(f"{name}.")]


def _tag(name: str) -> str:
    return f"{{*}}{name}"


def _text(element: ET.Element, name: str) -> str:
    found = element.find(_tag(name))
    return (found.text or "").strip() if found is not None else ""


def _set(element: ET.Element, name: str, value: str) -> None:
    found = element.find(_tag(name))
    if found is None:
        namespace = element.tag[:element.tag.index("}") + 1] if element.tag.startswith("{") else ""
        found = ET.SubElement(element, f"{namespace}{name}")
    found.text = value


def _serialised(root: ET.Element) -> bytes:
    namespace = root.tag[1:root.tag.index("}")] if root.tag.startswith("{") else None
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=namespace)
