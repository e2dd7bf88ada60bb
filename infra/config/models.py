"""The shape of nodes.json, as pydantic models.

`GroupSettings` is every key a group (or `__base__`) may set; `Group` is one group after it
inherited from `__base__`, with its name and the values derived from its settings.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from infra.config.chef import is_valid_run_list_item, normalize_run_list, services_in_run_list
from infra.config.fields import DAY, MAX_NODES, NonEmpty, Strict, TargetGroup, partial, target_group_name
from infra.config.notify import Notify
from infra.config.project import check_project_name
from infra.config.regions import unknown_region_problem
from infra.config.rollout import Rollout
from infra.config.scaling import Scaling
from infra.fsutil import inside_repository

# Checked with fullmatch everywhere: `$` would let a final newline through ("web\n").
GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")
# A group names its AMIs (`<group>-<yyyymmdd-hhmmss.mmm>-<16 hex digits>`, at most 128 characters)
# and launch templates (`<project>.<group>`, project up to 40, at most 128): 64 leaves room for both.
MAX_GROUP_NAME = 64
SOURCE_AMI = re.compile(r"ami-[0-9a-f]{8,17}|@[A-Za-z0-9_-]+")
# Tag keys infra sets itself, besides every infra:... key: refused in a group's `tags` (as aws:... are).
RESERVED_TAGS = frozenset({"Name", "group"})
# AWS takes at most 50 tags on a resource, keys of 128 characters and values of 256; infra sets
# these itself on some of a group's resources, so a group's own tags get what is left.
INFRA_TAGS = ("Name", "group", "infra:managed", "infra:source_hash", "infra:protect", "infra:owner",
              "infra:image_digest")
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 50, 128, 256
# An AWS region name: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4, ...
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
# CloudWatch keeps 5-minute data for 63 days: the longest window `infra usage` looks at.
MAX_USAGE_DAYS = 63


def _tag_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_TAG_KEY:
        raise ValueError(f"a tag key is 1 to {MAX_TAG_KEY} characters in AWS, this one {len(key)}")
    if key.startswith("aws:"):
        raise ValueError("aws: tag keys are AWS's own; use another key")
    if "{{" in key:  # a value may hold it (infra tags the AMI after packer); a key would be another key
        raise ValueError("packer reads '{{' in a tag key as the start of an expression; use another key")
    if key in RESERVED_TAGS or key.startswith("infra:"):
        raise ValueError("infra sets this tag itself (Name, group and the infra:... tags); use another key")
    return key


def _tag_count(tags: dict[str, str]) -> dict[str, str]:
    room = MAX_TAGS - len(INFRA_TAGS)
    if len(tags) > room:
        raise ValueError(f"{len(tags)} tags (with __base__'s); at most {room}: AWS takes {MAX_TAGS} on a resource "
                         f"and infra sets {len(INFRA_TAGS)} of its own ({', '.join(INFRA_TAGS)})")
    return tags


TagKey = Annotated[str, AfterValidator(_tag_key)]
def _tag_value(value: str) -> str:
    if len(value) > MAX_TAG_VALUE:
        raise ValueError(f"a tag value is at most {MAX_TAG_VALUE} characters in AWS, this one {len(value)}")
    return value


TagValue = Annotated[str, AfterValidator(_tag_value)]


def check_group_name(name: str) -> str:
    """Raise ValueError unless `name` can name a group's AWS resources, files and Chef role."""
    if not GROUP_NAME.fullmatch(name):
        raise ValueError(f"group name {name!r} can't be used by AWS or Chef; use letters, digits, '_' and '-' only")
    if len(name) > MAX_GROUP_NAME:
        raise ValueError(f"group name {name[:20]!r}... is {len(name)} characters; at most {MAX_GROUP_NAME}, because "
                         f"it names the group's AMIs (<group>-<timestamp>-<digest>, at most 128 characters) and "
                         f"launch templates (<project>.<group>, at most 128)")
    return name


def check_region(name: str) -> None:
    """Raise ValueError unless `name` reads as an AWS region (the API would refuse it, less clearly)."""
    if not REGION.fullmatch(name):
        raise ValueError(f"{name!r} is not an AWS region name (like us-east-1 or eu-west-2)")
    problem = unknown_region_problem(name)
    if problem:
        raise ValueError(problem)


class Autoscale(Strict):
    """How a group runs as an autoscaling group. Sane defaults where the seed left them open."""

    node_min: int = Field(1, ge=0, le=MAX_NODES, description="Smallest number of instances.")
    node_max: int = Field(1, ge=0, le=MAX_NODES, description="Largest number of instances.")
    desired: int | None = Field(None, ge=0, le=MAX_NODES, description="Desired capacity; node_min when unset.")
    timeout: int = Field(120, ge=0, le=DAY, description="Seconds the old ASG keeps running after a blue/green roll, "
                                                        "so other nodes notice.")
    healthy_deadline: int = Field(600, ge=1, le=DAY, description="Seconds a new ASG has to become healthy before the "
                                                                 "roll is undone.")
    zones: list[NonEmpty] = Field(default_factory=list, description="Availability zones; every zone of the region "
                                                                    "when empty.")
    subnets: list[NonEmpty] = Field(default_factory=list, description="VPC subnet ids; when set, zones are taken "
                                                                      "from them.")
    health_check_type: Literal["EC2", "ELB"] | None = Field(
        None, description="EC2 or ELB; ELB when the group has target_groups, else EC2.")
    health_check_grace: int = Field(300, ge=0, le=DAY, description="Seconds after launch before health checks count.")
    termination_policies: list[str] = Field(default_factory=lambda: ["OldestLaunchTemplate", "OldestInstance"])
    target_groups: list[TargetGroup] = Field(default_factory=list, description="ELBv2 target groups (names or "
                                                                             "ARNs) the ASG is attached to.")
    rollout: Rollout | None = Field(None, description="How a roll moves traffic: canary, bake, alarms, "
                                                      "min_healthy_percent.")
    scaling: Scaling | None = Field(None, description="Scaling policies (target tracking, step) and scheduled "
                                                      "actions; infra owns every one on the ASG once this is set.")

    @model_validator(mode="after")
    def _sizes_agree(self, info: ValidationInfo) -> Autoscale:
        if partial(info):  # half of the sizes may come from __base__: judged once merged
            return self
        if self.node_min > self.node_max:
            raise ValueError(f"node_min ({self.node_min}) is larger than node_max ({self.node_max})")
        if self.desired is not None and not self.node_min <= self.desired <= self.node_max:
            raise ValueError(f"desired ({self.desired}) is outside node_min..node_max "
                             f"({self.node_min}..{self.node_max})")
        self._requests_have_a_target_group()
        if self.rollout is not None and self.rollout.keep_previous and not self.target_groups:
            raise ValueError("rollout.keep_previous keeps the old ASG warm out of the target groups, and the group has "
                             "none: its old instances would go on working (a queue's workers); give target_groups, or "
                             "drop keep_previous")
        return self

    def _requests_have_a_target_group(self) -> None:
        """requests_per_target counts what one of the group's target groups receives."""
        names = [target_group_name(name) for name in self.target_groups]
        for key, policy in (self.scaling.target_tracking.items() if self.scaling else ()):
            if policy.metric != "requests_per_target":
                continue
            where = f"scaling.target_tracking.{key}"
            if not names:
                raise ValueError(f"{where}: requests_per_target counts the requests of one of the group's "
                                 f"target_groups, and it has none")
            if policy.target_group is None and len(names) > 1:
                raise ValueError(f"{where}: the group has {len(names)} target groups; say which one with "
                                 f"target_group ({', '.join(names)})")
            chosen = policy.target_group and target_group_name(policy.target_group)
            if chosen and chosen not in names:
                raise ValueError(f"{where}: target_group {chosen} is not one of the group's target_groups "
                                 f"({', '.join(names)})")

    @property
    def desired_capacity(self) -> int:
        return self.node_min if self.desired is None else self.desired

    @property
    def health_check(self) -> str:
        """The health check type: as given, else ELB for a group behind target groups (they say
        whether an instance serves), EC2 for the others."""
        return self.health_check_type or ("ELB" if self.target_groups else "EC2")


class Usage(Strict):
    """How `infra usage` judges the group's CPU (docs/scaling.md): a p95 below `idle_below` is idle,
    above `saturated_above` saturated, and less than `min_hours` of data gives no verdict."""

    idle_below: float = Field(10.0, ge=0, le=100, description="Percent: a p95 CPU below it is idle (0: never idle).")
    saturated_above: float = Field(80.0, ge=0, le=100, description="Percent: a p95 CPU above it is saturated "
                                                                 "(100: never saturated).")
    min_hours: float = Field(30.0, ge=0, le=MAX_USAGE_DAYS * 24, description="Hours of CPU data a verdict needs.")


class GroupSettings(Strict):
    """Every key a node group, or `__base__`, may set in nodes.json."""

    description: str = Field("", description="Free text; becomes the Chef role's description.")
    autoscale: Autoscale | None = Field(None, description="false, or the autoscaling group settings.")
    type: Literal["amazon-ebs"] = Field("amazon-ebs", description="Packer builder type.")
    region: str = Field("us-east-1", description="AWS region of the group's AMIs and instances.")
    instance_type: str = Field(..., description="EC2 instance type.", min_length=1)
    source_ami: str = Field(..., description="AMI to build from (ami-...), or @group to build from another group's "
                                             "newest AMI.")
    ssh_username: str = Field("ubuntu", description="User packer connects as.")
    security_groups: list[NonEmpty] = Field(default_factory=list, description="Security group names or ids.")
    key_name: str | None = Field(None, description="EC2 key pair for the group's instances.")
    iam_instance_profile: str | None = Field(None, description="Instance profile name (needed for SSM deploys).")
    default_attributes: dict[str, Any] = Field(default_factory=dict, description="Chef role default attributes.")
    override_attributes: dict[str, Any] = Field(default_factory=dict, description="Chef role override attributes.")
    run_list: list[str] = Field(default_factory=list, description="Chef run list.")
    post_run_list: list[str] = Field(default_factory=list, description="Run after the whole run_list.")
    packer: bool = Field(True, description="Build an AMI with packer; false uses source_ami as it is.")
    ami_keep: int | None = Field(None, ge=1, description="Keep this many newest AMIs; apply deregisters older ones.")
    build_timeout: int = Field(3600, ge=1, le=DAY, description="Seconds a packer build may take before it is stopped "
                                                               "(what it made so far is removed by the next apply).")
    depends_on: list[str] = Field(default_factory=list, description="Services this group consumes.")
    services_cookbook: str | None = Field(None, description="Cookbook whose recipes are services; any *-service "
                                                            "cookbook when unset.")
    tags: Annotated[dict[TagKey, TagValue], AfterValidator(_tag_count)] = Field(
        default_factory=dict, description="Extra tags on everything the group owns.")
    protect: bool = Field(False, description="Refuse plans that delete or replace the group's ASG or AMIs.")
    usage: Usage = Field(default_factory=Usage, description="The CPU thresholds of infra usage's verdicts.")

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        check_region(value)
        return value

    @field_validator("autoscale", mode="before")
    @classmethod
    def _autoscale_off(cls, value: Any) -> Any:
        if value is False or value is None:
            return None
        if value is True:
            raise ValueError("true is not enough: give the settings, e.g. {\"node_min\": 2, \"node_max\": 4}")
        return value

    @field_validator("run_list", "post_run_list")
    @classmethod
    def _run_list_items(cls, items: list[str]) -> list[str]:
        for item in items:
            if not is_valid_run_list_item(item):
                raise ValueError(f"{item!r} is not a run-list item; write recipe[cookbook::recipe] or role[name]")
        return items

    @field_validator("source_ami")
    @classmethod
    def _source_ami(cls, value: str) -> str:
        if not SOURCE_AMI.fullmatch(value):
            raise ValueError(f"{value!r} is neither an AMI id (ami-0123abcd) nor a group reference (@group)")
        return value


class Group(GroupSettings):
    """One node group after inheriting from `__base__`."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    name: str

    @field_validator("usage")
    @classmethod
    def _usage_thresholds_apart(cls, usage: Usage) -> Usage:
        """Checked once merged: __base__ may set one threshold and the group the other."""
        if usage.idle_below >= usage.saturated_above:
            raise ValueError(f"idle_below ({usage.idle_below:g}) must be below saturated_above "
                             f"({usage.saturated_above:g}), leaving room for fine")
        return usage

    @cached_property
    def role_run_list(self) -> list[str]:
        """The role's run list: run_list then post_run_list, in Chef's normal form."""
        return normalize_run_list([*self.run_list, *self.post_run_list])

    @cached_property
    def services(self) -> list[str]:
        return services_in_run_list(self.role_run_list, self.services_cookbook)

    @property
    def source_group(self) -> str | None:
        """The group whose AMI this one builds from, for `"source_ami": "@group"`."""
        return self.source_ami[1:] if self.source_ami.startswith("@") else None


# S3's bucket naming rules (general purpose buckets): 3 to 63 lower-case letters, digits, '.' and '-',
# starting and ending with a letter or digit, no '..', not shaped like an IP address.
BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_SHAPED = re.compile(r"\d+\.\d+\.\d+\.\d+")
LOCK_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")  # DynamoDB's table names


def check_bucket(bucket: str | None) -> str | None:
    if bucket is None:
        return None
    if not BUCKET.fullmatch(bucket) or ".." in bucket or IP_SHAPED.fullmatch(bucket):
        raise ValueError(f"bucket {bucket!r} is not an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and "
                         f"'-', starting and ending with a letter or digit (e.g. acme-ops-state)")
    return bucket


def check_state_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts) or len(key.encode()) > 1024:
        raise ValueError(f"key {key!r} is not a state object key: a path of names separated by '/', not starting "
                         f"or ending with '/', without '.' or '..' (e.g. infra/prod.json)")
    return key


def check_lock_table(table: str | None) -> str | None:
    if table is not None and not LOCK_TABLE.fullmatch(table):
        raise ValueError(f"lock_table {table!r} is not a DynamoDB table name: 3 to 255 letters, digits, '_', '.' "
                         f"and '-'")
    return table


class StateSettings(Strict):
    backend: Literal["local", "s3"] = "local"
    path: Annotated[str, AfterValidator(inside_repository)] = ".infra/state.json"
    bucket: Annotated[str | None, AfterValidator(check_bucket)] = None
    key: Annotated[str, AfterValidator(check_state_key)] = "infra/state.json"
    region: str | None = None
    lock_table: Annotated[str | None, AfterValidator(check_lock_table)] = None

    @model_validator(mode="after")
    def _s3_complete(self) -> StateSettings:
        """Without a lock table the S3 backend locks with a lock object beside the state (docs/state.md)."""
        if self.backend == "s3" and not self.bucket:
            raise ValueError("the s3 backend needs bucket (see docs/state.md)")
        return self


class Settings(Strict):
    """The optional `__settings__` block: the project's name and where state lives."""

    project: str | None = Field(None, description="The ops repository's name: everything infra makes is tagged "
                                                  "infra:owner=<project>, and infra touches nothing of another "
                                                  "project. Derived from the git remote when unset.")
    state: StateSettings = Field(default_factory=StateSettings)
    max_request_rate: float | None = Field(None, ge=0.1, le=10_000,
                                           description="At most this many AWS requests per second, across all "
                                                       "threads of a command (--max-request-rate overrides it).")
    notify: Notify | None = Field(None, description="Webhooks told when a roll starts, pauses, is promoted, "
                                                    "finishes or rolls back, and when drift is found.")
    consistency_timeout: float | None = Field(None, ge=0, le=3600,
                                              description="Seconds to wait for AWS to show what infra just made "
                                                          "(eventual consistency) before an action fails; "
                                                          "INFRA_CONSISTENCY_TIMEOUT when unset, else 120.")
    promote: list[str] = Field(default_factory=list, description="Environments in the order an AMI goes through "
                                                                 "them: the first builds it, each next one promotes "
                                                                 "(copies) its predecessor's instead of building.")

    @field_validator("project")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        return None if value is None else check_project_name(value)
