"""The sandbox's moto server: moto, made a little closer to AWS where infra's builds need it.

Run as `python -m infra.sandbox.server [moto.server options]`. With `INFRA_SANDBOX_HOSTILE` set (JSON
knobs), moto's application runs behind the hostile layer (hostile.py: latency, throttling, lag,
pending instances, `initial` targets, failed launches). Eleven differences from plain moto:

- An image made by CreateImage has root device type `ebs`, as in AWS (CreateImage only works
  on EBS-backed instances); moto says `standard`, and packer's amazon-ebs builder refuses to
  build from such an image, so a group built `"source_ami": "@base"` could not build in moto.
- Every region starts with the security groups named in `INFRA_SANDBOX_SECURITY_GROUPS` (a
  JSON list) in its default VPC, as the source AMIs of MOTO_AMIS_PATH are there; both survive
  a reset of the server's state.
- Every region starts with the ELBv2 target groups and CloudWatch alarms named in
  `INFRA_SANDBOX_TARGET_GROUPS` and `INFRA_SANDBOX_ALARMS` (JSON lists): those nodes.json's
  groups roll behind and watch, so a gated roll runs in the sandbox as it would in AWS (the
  alarms start OK; `aws cloudwatch set-alarm-state` fires one). They survive a reset too.
- A launch template version made by CreateLaunchTemplateVersion keeps its user data the way
  CreateLaunchTemplate does; plain moto fails to launch instances from such a version, so an
  ASG could not roll to a new version.
- DescribeLaunchTemplates and DescribeLaunchTemplateVersions answer in pages with a NextToken, as
  in AWS; plain moto answers with the first MaxResults (15 unless asked) and no token, so with
  more than 15 ASGs infra would see only 15 launch templates and plan to make the others again.
  DescribeImages answers in pages of MaxResults when asked, as in AWS (plain moto ignores it and
  answers everything at once; infra asks for pages so as not to hold 10,000 AMIs' XML at once).
- A launch template's tags are those it has now, as in AWS; plain moto keeps the ones it was
  created with, so tags added later never showed.
- An EC2 resource's tags are looked up by its id; plain moto scans every tag of every resource
  for each one, so describing 1,000 tagged AMIs took seconds (it grows with the square of their
  number) and the sandbox, not infra, set the pace of a plan. The answers are the same.
- Each request costs moto less: what moto works out again for every request (the names of its
  service modules, the actions of a response class, the operation a request is for, a Query
  request's parameters) is worked out once (quick_requests.py), and DescribeImages of one AMI by
  id is a look-up, not a walk of every AMI. An apply of 1,000 groups took 27 s of moto's CPU, a
  third of it in that dispatch. The answers are the same.
- CopyImage of an AMI another account shared (its launch permission) copies it, as in AWS; plain
  moto looks for the source in the copying account only, so an environment in another account
  (a role assumed: moto answers as that role's account) could not promote what staging built.
- A conditional PutObject (If-None-Match, If-Match) or DeleteObject (If-Match) looks at the object
  and writes or deletes it as one step for its bucket and key, as S3 does; plain moto looks, then
  writes, so two applies that put the state's lock object at the same moment could both write it,
  and both go on as its holder (and a release could delete a lock another run had just put).
- A PutItem or DeleteItem looks at the item, checks its ConditionExpression and writes as one step
  for its table, as DynamoDB does; plain moto looks, then writes, so two applies could both put the
  lock table's item with attribute_not_exists(LockID).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from infra.sandbox.quick_requests import quick_requests

SECURITY_GROUPS_ENV = "INFRA_SANDBOX_SECURITY_GROUPS"
TARGET_GROUPS_ENV = "INFRA_SANDBOX_TARGET_GROUPS"
ALARMS_ENV = "INFRA_SANDBOX_ALARMS"
HOSTILE_ENV = "INFRA_SANDBOX_HOSTILE"  # the hostile layer's knobs (JSON); hostile.py
SANDBOX_DELAY = "5"  # seconds of deregistration delay for the seeded target groups (AWS's default: 300)


def patch_moto(security_groups: list[str], target_groups: Sequence[str] = (), alarms: Sequence[str] = ()) -> None:
    _seed_traffic(list(target_groups), list(alarms))
    _live_launch_template_tags()
    _decode_launch_template_version_user_data()
    _page_describes()
    _tags_by_id()
    _copy_shared_images()
    _atomic_conditional_writes()
    _atomic_item_writes()
    quick_requests()
    _images_by_id()
    from moto.ec2.models import EC2Backend
    from moto.ec2.models.amis import AmiBackend

    create_image = AmiBackend.create_image

    def create_ebs_image(self: Any, *args: Any, **kwargs: Any) -> Any:
        image = create_image(self, *args, **kwargs)
        image.root_device_type = "ebs"
        return image

    AmiBackend.create_image = create_ebs_image  # type: ignore[method-assign]
    if not security_groups:
        return
    init = EC2Backend.__init__

    def init_with_groups(self: Any, region_name: str, account_id: str) -> None:
        init(self, region_name, account_id)
        for name in security_groups:
            self.create_security_group(name, "seeded by infra sandbox (named in nodes.json)",
                                       vpc_id=self.default_vpc.id)

    EC2Backend.__init__ = init_with_groups  # type: ignore[method-assign]


def _seed_traffic(target_groups: list[str], alarms: list[str]) -> None:
    """Target groups (in the default VPC, HTTP on port 80) and alarms (OK) in every region."""
    from moto.cloudwatch.models import CloudWatchBackend
    from moto.elbv2.models import ELBv2Backend

    if target_groups:
        init_elbv2 = ELBv2Backend.__init__

        def init_with_target_groups(self: Any, region_name: str, account_id: str) -> None:
            init_elbv2(self, region_name, account_id)
            for name in target_groups:
                made = self.create_target_group(name, protocol="HTTP", port=80, target_type="instance",
                                                vpc_id=self.ec2_backend.default_vpc.id)
                self.modify_target_group_attributes(made.arn, {"deregistration_delay.timeout_seconds": SANDBOX_DELAY})

        ELBv2Backend.__init__ = init_with_target_groups  # type: ignore[method-assign]
    if alarms:
        init_cloudwatch = CloudWatchBackend.__init__

        def init_with_alarms(self: Any, region_name: str, account_id: str) -> None:
            init_cloudwatch(self, region_name, account_id)
            for name in alarms:
                self.put_metric_alarm(name=name, namespace="infra/sandbox", metric_name=name,
                                      comparison_operator="GreaterThanThreshold", evaluation_periods=1, period=60,
                                      threshold=1.0, statistic="Sum", description="seeded by infra sandbox",
                                      dimensions=[], alarm_actions=[])

        CloudWatchBackend.__init__ = init_with_alarms  # type: ignore[method-assign]


def _decode_launch_template_version_user_data() -> None:
    """CreateLaunchTemplateVersion keeps UserData as a plain string (CreateLaunchTemplate wraps it),
    so an ASG launching from version 2 or later fails an assertion in moto: wrap it the same way."""
    from moto.ec2.models.launch_templates import LaunchTemplate
    from moto.ec2.utils import parse_user_data

    create_version = LaunchTemplate.create_version

    def create_version_with_user_data(self: Any, data: dict[str, Any], description: str) -> Any:
        if isinstance(data.get("UserData"), str):
            data = {**data, "UserData": parse_user_data(data["UserData"])}
        return create_version(self, data, description)

    LaunchTemplate.create_version = create_version_with_user_data  # type: ignore[method-assign]


def _live_launch_template_tags() -> None:
    """A launch template's tags as they are now: moto keeps those it was created with, so tags
    added later (CreateTags) never showed and every plan wanted to add them again."""
    from moto.ec2.models.launch_templates import LaunchTemplate

    LaunchTemplate.tags = property(lambda self: self.get_tags(), lambda self, value: None)  # type: ignore


def _copy_shared_images() -> None:
    """CopyImage finds a source AMI that another account shared with the copying one."""
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.amis import Ami, AmiBackend
    from moto.ec2.utils import random_ami_id

    copy_image = AmiBackend.copy_image

    def copy_shared(self: Any, source_image_id: str, source_region: str, name: Any = None,
                    description: Any = None) -> Any:
        for account_id, region, backend in ec2_backends.iter_backends():
            # moto types what iter_backends gives as BaseBackend; these are EC2 backends
            image = backend.amis.get(source_image_id) if region == source_region else None  # type: ignore[attr-defined]
            if account_id != self.account_id and image is not None and (
                    image.is_public or {"UserId": self.account_id} in image.launch_permissions):
                copied = Ami(self, random_ami_id(), source_ami=image, name=name, description=description)
                self.amis[copied.id] = copied
                return copied
        return copy_image(self, source_image_id, source_region, name, description)

    AmiBackend.copy_image = copy_shared  # type: ignore[method-assign]


def _atomic_conditional_writes() -> None:
    """moto's PutObject checks If-None-Match and If-Match against the object there, then writes, and its
    DeleteObject checks If-Match, then deletes, with nothing holding the key between (each request has its
    thread): held here, per bucket and key, from the check to the write or delete, so of conditional puts
    at once one writes and the others get 412 as in S3 (S3LockObject's acquire relies on it), and a
    release's delete If-Match its lock's ETag never deletes a lock another run put meanwhile. A plain put
    or delete does not wait: between a conditional request's check and its write it changes nothing the
    check promised (a lock object gone is gone to both), and infra puts no lock object without a condition."""
    import threading

    from moto.s3.responses import S3Response

    put_object, delete_object = S3Response.put_object, S3Response.delete_object
    locks: dict[tuple[str, str], threading.Lock] = {}  # one per key ever written conditionally: lock objects

    def held(self: Any) -> threading.Lock:
        return locks.setdefault((self.bucket_name, self.parse_key_name()), threading.Lock())

    def put_object_atomically(self: Any) -> Any:
        if not (self.headers.get("If-None-Match") or self.headers.get("If-Match")):
            return put_object(self)
        with held(self):
            return put_object(self)

    def delete_object_atomically(self: Any) -> Any:
        if not self.headers.get("If-Match"):
            return delete_object(self)
        with held(self):
            return delete_object(self)

    S3Response.put_object = put_object_atomically  # type: ignore[method-assign]
    S3Response.delete_object = delete_object_atomically  # type: ignore[method-assign]


def _atomic_item_writes() -> None:
    """moto's PutItem and DeleteItem look up the item, evaluate the ConditionExpression against it, then
    write or delete, with nothing holding the item between: two applies putting the lock item with
    attribute_not_exists(LockID) at once could both be answered 200, where DynamoDB fails all but one
    with ConditionalCheckFailedException (DynamoDBLock relies on it). Held here, per table, from the
    look-up to the write, for every put and delete of an item (the sandbox's tables are lock tables:
    a few items, a few writes)."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    put_item, delete_item = DynamoDBBackend.put_item, DynamoDBBackend.delete_item
    locks: dict[tuple[str, str, str], threading.Lock] = {}  # one per table ever written

    def held(self: Any, table_name: str) -> threading.Lock:
        return locks.setdefault((self.account_id, self.region_name, table_name), threading.Lock())

    def put_item_atomically(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        with held(self, table_name):
            return put_item(self, table_name, *args, **kwargs)

    def delete_item_atomically(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        with held(self, table_name):
            return delete_item(self, table_name, *args, **kwargs)

    DynamoDBBackend.put_item = put_item_atomically  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = delete_item_atomically  # type: ignore[method-assign]


def _tags_by_id() -> None:
    from moto.ec2.models.core import TaggedEC2Resource
    from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

    get_tags = TaggedEC2Resource.get_tags

    def tags_of(self: Any) -> list[dict[str, str]]:
        resource_id = getattr(self, "id", None)
        if not resource_id or any(c in resource_id for c in "*?["):  # a pattern: moto's own way
            return get_tags(self)
        found = self.ec2_backend.tags.get(resource_id, {})
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
        return [{"resource_id": resource_id, "key": k, "value": v, "resource_type": kind} for k, v in found.items()]

    TaggedEC2Resource.get_tags = tags_of  # type: ignore[method-assign]


def _images_by_id() -> None:
    """DescribeImages of one AMI by its id (as after every build, and CreateTags of an AMI) is a
    look-up; plain moto walks every AMI of the region for it."""
    from moto.ec2.models.amis import AmiBackend

    describe = AmiBackend.describe_images

    def describe_images(self: Any, ami_ids: list[str] | None = None, *args: Any, **kwargs: Any) -> Any:
        if ami_ids and len(ami_ids) == 1 and ami_ids[0] in self.amis:
            return [self.amis[ami_ids[0]]]
        return describe(self, ami_ids, *args, **kwargs)

    AmiBackend.describe_images = describe_images  # type: ignore[method-assign]


def _page_describes() -> None:
    from moto.ec2.responses.amis import AmisResponse
    from moto.ec2.responses.launch_templates import LaunchTemplates

    for operation, key in (("describe_launch_templates", "LaunchTemplates"),
                           ("describe_launch_template_versions", "LaunchTemplateVersions")):
        setattr(LaunchTemplates, operation, _paged(getattr(LaunchTemplates, operation), key))
    AmisResponse.describe_images = _paged(AmisResponse.describe_images, "Images", unasked=None)  # type: ignore[method-assign]


def _paged(describe: Any, key: str, unasked: int | None = 15) -> Any:
    """`describe` answering one page of MaxResults items at a time (`unasked` items, or all of them
    when None, if MaxResults is not given), with a NextToken while more are left."""
    from moto.core.responses import ActionResult

    def paged(self: Any) -> Any:
        size = self._get_int_param("MaxResults", unasked)
        token = str(self._get_param("NextToken") or "0")
        start = int(token) if token.isdigit() else 0
        get_int = self._get_int_param
        # moto's own slice is by MaxResults: lift it, then cut the page asked for.
        self._get_int_param = lambda name, *default: 10**9 if name == "MaxResults" else get_int(name, *default)
        result = dict(describe(self).result)
        items = result[key]
        size = len(items) if size is None else size
        result[key] = items[start:start + size]
        if start + size < len(items):
            result["NextToken"] = str(start + size)
        return ActionResult(result)

    return paged


def _hostile(knobs: str) -> None:
    """moto's application behind the hostile layer (hostile.py): AWS's bad days, as the knobs say."""
    import moto.server

    from infra.sandbox.hostile import Hostile, Knobs

    dispatcher = moto.server.DomainDispatcherApplication
    moto.server.DomainDispatcherApplication = lambda create: Hostile(dispatcher(create), Knobs.from_json(knobs))  # type: ignore


def main(argv: list[str] | None = None) -> None:
    if os.environ.get(HOSTILE_ENV):
        _hostile(os.environ[HOSTILE_ENV])
    groups = json.loads(os.environ.get(SECURITY_GROUPS_ENV) or "[]")
    target_groups = json.loads(os.environ.get(TARGET_GROUPS_ENV) or "[]")
    alarms = json.loads(os.environ.get(ALARMS_ENV) or "[]")
    patch_moto([str(g) for g in groups if not str(g).startswith("sg-")],
               [str(t) for t in target_groups if not str(t).startswith("arn:")], [str(a) for a in alarms])
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
