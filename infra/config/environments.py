"""Environments: staging, production (and more) from one nodes.json.

`__environments__` names them. Each overlays nodes.json with the seed's merge rules: its group
settings over `__base__` (a group that sets the key itself keeps its own value), its `groups` over
each group. Each has its own AWS access (a profile or a role to assume), its own state (the
project's, in a folder of the environment's name) and its own owner, `<project>/<environment>`, on
everything it makes: two environments in one account and region never see each other's resources.
`__settings__.promote` orders environments that build an AMI once: the first builds, each next one
promotes (copies) its predecessor's AMI built from the same inputs.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator, model_validator

from infra.config.groups import Overlay, build_groups
from infra.config.locate import ENVIRONMENTS_KEY, SETTINGS_KEY, Locator, unknown
from infra.config.models import Group, GroupSettings, Settings, StateSettings, Strict
from infra.errors import ConfigError
from infra.fsutil import inside_repository

# An environment's name is in tag values, state paths and resource names: `<project>/<env>.<group>`
# (launch templates, at most 128 characters: project 40, group 64), `<group>-<env>-<time>-<digest>`
# (AMIs, at most 128), `infra.<project>/<env>.<group>.<uuid>` (packer's key pairs, parsed at the dots).
ENVIRONMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
MAX_ENVIRONMENT_NAME = 20
ACCOUNT = re.compile(r"[0-9]{12}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::([0-9]{12}):role/[\w+=,.@/-]{1,512}")
OWN_KEYS = ("aws", "state", "groups")  # an environment's keys that are not group settings
SHAPES = {"role_arn": (ROLE_ARN, "an IAM role ARN like arn:aws:iam::123456789012:role/infra"),
          "account": (ACCOUNT, "an AWS account id (12 digits, as a string)")}


class AwsAccess(Strict):
    """How infra reaches an environment's AWS account."""

    profile: str | None = Field(None, min_length=1, description="AWS profile of the environment's account; wins over "
                                                                "--profile and AWS_PROFILE.")
    role_arn: str | None = Field(None, description="IAM role to assume for the environment's account, from the "
                                                   "credentials infra has (a profile, the environment, OIDC in CI).")
    external_id: str | None = Field(None, min_length=2, max_length=1224, description="External id the role's trust "
                                                                                    "policy asks for.")
    account: str | None = Field(None, description="The 12-digit account the environment runs in: infra refuses "
                                                  "credentials of another account.")

    @field_validator("role_arn", "account")
    @classmethod
    def _shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        pattern, shape = SHAPES[cast(str, info.field_name)]  # set: a field validator's field
        if value is not None and not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {shape}")
        return value

    @model_validator(mode="after")
    def _agree(self) -> AwsAccess:
        if self.external_id is not None and self.role_arn is None:
            raise ValueError("external_id goes with role_arn: it is given when the role is assumed")
        role_account = self.role_account
        if self.account is not None and role_account is not None and role_account != self.account:
            raise ValueError(f"role_arn is in account {role_account}, account says {self.account}; they must agree")
        return self

    @property
    def role_account(self) -> str | None:
        match = ROLE_ARN.fullmatch(self.role_arn or "")
        return match.group(1) if match else None

    @property
    def account_id(self) -> str | None:
        """The account this environment must run in, when nodes.json says (`account`, or the role's)."""
        return self.account or self.role_account


class StateOverride(Strict):
    """An environment's changes to `__settings__.state` (another bucket, in its own account)."""

    backend: Literal["local", "s3"] | None = None
    path: Annotated[str, AfterValidator(inside_repository)] | None = None
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    lock_table: str | None = None


class EnvironmentSettings(Strict):
    """An environment's own keys; its other keys are group settings, merged over `__base__`."""

    aws: AwsAccess = Field(default_factory=AwsAccess, description="How to reach the environment's AWS account.")
    state: StateOverride = Field(default_factory=StateOverride,
                                 description="Changes to __settings__.state; the path and key get a folder of the "
                                             "environment's name unless given here.")
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                              description="Settings merged over each named group.")


@dataclass(frozen=True)
class Environment:
    """One environment: its groups as merged for it, its AWS access and state, and the environment
    whose AMIs it promotes instead of building (None: it builds its own)."""

    name: str
    groups: dict[str, Group]
    aws: AwsAccess
    state: StateSettings
    promoted_from: str | None = None

    @property
    def regions(self) -> list[str]:
        return sorted({group.region for group in self.groups.values()})


def owner_of(project: str, environment: str | None) -> str:
    """The `infra:owner` tag value: the project, and its environment's name when it has one."""
    return f"{project}/{environment}" if environment else project


def parse_environments(raw: Any, base: dict[str, Any], raw_groups: dict[str, Any], settings: Settings,
                       locator: Locator) -> dict[str, Environment]:
    """Every environment of `__environments__`, its groups merged and validated, or a located error."""
    if raw is None:
        if settings.promote:
            raise locator.error([SETTINGS_KEY, "promote"], "__settings__: promote names environments, but nodes.json "
                                                           "has no __environments__; add them, or remove promote")
        return {}
    if not isinstance(raw, dict) or not raw:
        raise locator.error([ENVIRONMENTS_KEY], "__environments__ must be an object of environments, e.g. "
                                                "{\"staging\": {\"region\": \"us-west-2\"}, \"production\": {}}")
    environments = {name: _environment(name, entry, base, raw_groups, settings, locator)
                    for name, entry in raw.items()}
    _check_states_apart(environments, locator)
    return _with_promotion(environments, settings.promote, locator)


def _environment(name: str, entry: Any, base: dict[str, Any], raw_groups: dict[str, Any], settings: Settings,
                 locator: Locator) -> Environment:
    overlay = Overlay(name)
    if not ENVIRONMENT_NAME.fullmatch(name) or len(name) > MAX_ENVIRONMENT_NAME:
        raise locator.error(overlay.keys(), f"environment name {name!r}: use 1-{MAX_ENVIRONMENT_NAME} lower-case "
                                            f"letters, digits, '_' and '-', starting with a letter or digit (it "
                                            f"names resources: <project>/{name}.<group> must fit in 128 characters)")
    if not isinstance(entry, dict):
        raise locator.error(overlay.keys(), f"{overlay.label} must be an object of settings, not "
                                            f"{type(entry).__name__}")
    known = [*GroupSettings.model_fields, *OWN_KEYS]
    for key in entry:
        if key not in known:
            raise locator.error(overlay.keys(key), f"{overlay.label}: " + unknown(f"key {key!r}", key, known))
    own = {key: value for key, value in entry.items() if key in OWN_KEYS}
    overlay = Overlay(name, base={key: value for key, value in entry.items() if key not in OWN_KEYS})
    locator.check_keys(overlay.base, GroupSettings, name, label=overlay.label, at=lambda loc: overlay.keys(*loc))
    try:
        settings_of = EnvironmentSettings.model_validate(own)
    except ValidationError as exc:
        raise locator.from_validation(exc, name, own, own, EnvironmentSettings, label=overlay.label,
                                      at=lambda loc: overlay.keys(*loc)) from None
    for group, changes in settings_of.groups.items():
        if group not in raw_groups:
            raise locator.error(overlay.keys("groups", group), f"{overlay.label}: groups: "
                                + unknown(f"group {group!r}", group, raw_groups))

        def in_group(loc: list[Any], group: str = group) -> list[Any]:
            return overlay.keys("groups", group, *loc)

        locator.check_keys(changes, GroupSettings, group, label=f"{overlay.label}: group {group!r}", at=in_group)
    overlay = Overlay(name, base=overlay.base, groups=settings_of.groups)
    return Environment(name=name, groups=build_groups(base, raw_groups, locator, overlay), aws=settings_of.aws,
                       state=_state(settings.state, settings_of.state, overlay, locator))


def _state(project: StateSettings, changes: StateOverride, overlay: Overlay, locator: Locator) -> StateSettings:
    """The environment's state: the project's with its changes; the path and key, unless given, in a
    folder of the environment's name beside the project's (`.infra/staging/state.json`)."""
    given = changes.model_dump(exclude_none=True)
    values = {**project.model_dump(), **given}
    for key in ("path", "key"):
        if key not in given:
            folder, name = posixpath.split(getattr(project, key))
            values[key] = posixpath.join(folder, overlay.name, name)
    try:
        return StateSettings.model_validate(values)
    except ValidationError as exc:
        raise locator.from_validation(exc, overlay.name, given, values, StateSettings,
                                      label=f"{overlay.label}: state", at=lambda loc: overlay.keys("state")) from None


def require_environment(config: Any) -> None:
    """A nodes.json with environments is planned, applied and inspected one environment at a time."""
    if config.environments and config.environment is None:
        names = ", ".join(config.environments)
        raise ConfigError(f"{config.path} defines environments ({names}): choose one with --env NAME (or INFRA_ENV)")


def state_location(state: StateSettings) -> str:
    """Where a state lives, in words: the local file, or the S3 object."""
    return f"s3://{state.bucket}/{state.key}" if state.backend == "s3" else state.path


def described(project: str, environments: dict[str, Environment]) -> list[dict[str, Any]]:
    """Each environment as `infra env list` shows it: regions, account, state, where its AMIs come from."""
    return [{"name": name, "owner": owner_of(project, name), "regions": environment.regions,
             "account": environment.aws.account_id, "profile": environment.aws.profile,
             "role_arn": environment.aws.role_arn, "state": state_location(environment.state),
             "promoted_from": environment.promoted_from}
            for name, environment in environments.items()]


def _check_states_apart(environments: dict[str, Environment], locator: Locator) -> None:
    seen: dict[str, str] = {}
    for name, environment in environments.items():
        where = state_location(environment.state)
        if where in seen:
            raise locator.error([ENVIRONMENTS_KEY, name, "state"],
                                f"environments {seen[where]!r} and {name!r} would share the state {where}; give each "
                                f"its own (state.path, or state.key for s3)")
        seen[where] = name


def _with_promotion(environments: dict[str, Environment], promote: list[str],
                    locator: Locator) -> dict[str, Environment]:
    """Each environment of `promote` after the first promotes its predecessor's AMIs."""
    if not promote:
        return environments
    where = [SETTINGS_KEY, "promote"]
    for name in promote:
        if name not in environments:
            raise locator.error(where, "__settings__: promote: " + unknown(f"environment {name!r}", name,
                                                                              environments))
    if len(promote) < 2 or len(set(promote)) != len(promote):
        raise locator.error(where, "__settings__: promote lists environments in the order an AMI goes through them, "
                                   "each once and at least two, e.g. [\"staging\", \"production\"]")
    promoted = dict(environments)
    for previous, name in pairwise(promote):
        for group, settings in environments[name].groups.items():
            if settings.packer and not environments[previous].groups[group].packer:
                raise locator.error([ENVIRONMENTS_KEY, name], f"environment {name!r}: group {group!r} has an AMI, "
                                                              f"which {name} promotes from {previous}, where the group "
                                                              f"has \"packer\": false; give both the same packer")
        promoted[name] = Environment(name=name, groups=environments[name].groups, aws=environments[name].aws,
                                     state=environments[name].state, promoted_from=previous)
    return promoted
