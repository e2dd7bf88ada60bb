"""EC2 launch templates: one per group, named after it, a new version whenever what boots changes.

Observation is two calls per region for every group: the managed templates (tag filter), and
the default version of every template in the account (`$Default` without a template id). infra
makes each version it creates the default, so the default is what it applied; a version made by
hand beside it changes nothing until someone makes it the default (then it is drift).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any, cast

import botocore.exceptions

from infra.aws.consistency import until_visible
from infra.aws.session import AwsClients, aws_errors, error_code, paginate
from infra.errors import ProviderError
from infra.providers.aws.common import (
    GROUP_TAG,
    MANAGED,
    AwsContext,
    ObservedPerRegion,
    as_config_names,
    by_owner,
    identity_tags,
    managed_tags,
    security_group_ids,
    security_group_names,
    tag_dict,
    tag_list,
    unowned_of,
)
from infra.providers.aws.unlisted import Lookup
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import OWNER_TAG
from infra.reconciler.plan import Action, changed_attributes
from infra.reconciler.resources import Observation, Observed, address_of

# On a template `infra rollback` pointed back at an earlier version: the version infra applied
# (what nodes.json asks for), which plans compare with while the default is the earlier one.
APPLIED_TAG = "infra:applied_version"
PAGE = {"PageSize": 200}  # the most AWS gives in one page; fewer requests with many groups
# Attributes that live in a template version; a change to any of them makes a new version.
VERSIONED = ("image_id", "instance_type", "security_groups", "key_name", "iam_instance_profile", "user_data")


# What the state records and the scan did not list, by id (common.py's ObservedPerRegion.confirm); EC2
# refuses a whole call naming one id that does not exist.
BY_ID = Lookup("ec2", "describe_launch_templates", "LaunchTemplateIds", "LaunchTemplates", "LaunchTemplateId",
               output="id", batch=200, gone=("InvalidLaunchTemplateId.NotFound", "InvalidLaunchTemplateId.Malformed"))


class LaunchTemplatesProvider(ObservedPerRegion):
    kinds = frozenset({"launch_template"})
    lookup = BY_ID

    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients

    def interrupt(self) -> None:
        self.clients.interrupt()  # a wait for AWS to show what was just made ends

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        ec2 = self.clients.client("ec2", region)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="template-versions") as pool:
            # Every template's default version, paged at the same time as the templates once the first
            # of this project's is seen: not at all in a region with none (a cold plan).
            versions: Future[list[dict[str, Any]]] | None = None
            templates, tags_of = [], {}  # tags by template id: read once, not at each look
            for template in paginate(ec2, "describe_launch_templates", "LaunchTemplates", Filters=[MANAGED],
                                     PaginationConfig=PAGE):
                tags = tag_dict(template.get("Tags"))
                if not tags.get(GROUP_TAG):
                    continue
                templates.append(template)
                tags_of[template["LaunchTemplateId"]] = tags
                if versions is None and tags.get(OWNER_TAG, "") in ("", self.owner):
                    versions = pool.submit(lambda: list(paginate(
                        ec2, "describe_launch_template_versions", "LaunchTemplateVersions", Versions=["$Default"],
                        PaginationConfig=PAGE)))
            owners = by_owner(templates, lambda t: tags_of[t["LaunchTemplateId"]], self.owner)
            theirs = [(_address(t, tags_of[t["LaunchTemplateId"]]), owner,
                       _described(region, t["LaunchTemplateName"], t["LaunchTemplateId"]))
                      for owner, t in owners.theirs]
            mine = owners.ours + owners.untagged
            if not mine or versions is None:
                return Observation(unowned=unowned_of({}, str, theirs, wanted))
            ids = {t["LaunchTemplateId"] for t in mine}
            default = {v["LaunchTemplateId"]: v for v in versions.result() if v["LaunchTemplateId"] in ids}
        observed = self._reader(region, ec2, mine, default, tags_of, wanted)
        return Observation(found=observed(owners.ours), unowned=unowned_of(
            observed(owners.untagged), lambda o: _described(region, o.attributes["name"], o.attributes["id"]),
            theirs, wanted))

    def _observed_by_id(self, region: str, items: list[dict[str, Any]],
                        wanted: dict[str, dict[str, Any]]) -> dict[str, Observed]:
        """Templates the scan did not list, described by id: this project's, read as the scan's are
        (each one's default version asked for alone: they are few)."""
        ec2 = self.clients.client("ec2", region)
        mine = [t for t in items if tag_dict(t.get("Tags")).get(GROUP_TAG)
                and tag_dict(t.get("Tags")).get(OWNER_TAG) == self.owner]
        def default_of(ident: str) -> dict[str, Any]:
            return cast(dict[str, Any], ec2.describe_launch_template_versions(
                LaunchTemplateId=ident, Versions=["$Default"])["LaunchTemplateVersions"][0])

        default = {}
        for template in mine:
            ident = template["LaunchTemplateId"]
            with aws_errors(f"describe the default version of {template['LaunchTemplateName']}"):
                default[ident] = until_visible(partial(default_of, ident), what=f"launch template {ident} to show",
                                               service="ec2", patience=self.clients.patience)
        tags_of = {template["LaunchTemplateId"]: tag_dict(template.get("Tags")) for template in mine}
        return self._reader(region, ec2, mine, default, tags_of, wanted)(mine)

    def _reader(self, region: str, ec2: Any, mine: list[dict[str, Any]], default: dict[str, dict[str, Any]],
                tags_of: dict[str, dict[str, str]], wanted: dict[str, dict[str, Any]]
                ) -> Callable[[list[dict[str, Any]]], dict[str, Observed]]:
        """What reads templates of `mine` in nodes.json's words: each with the version infra applied
        (else its `default`, by id), its tags (`tags_of`, by id) and its security groups by name."""
        default.update(self._applied_versions(ec2, mine))
        group_ids = [g for v in default.values() for g in v.get("LaunchTemplateData", {}).get("SecurityGroupIds", [])]
        names = security_group_names(self.clients, region, group_ids)

        def observed(found: list[dict[str, Any]]) -> dict[str, Observed]:
            made = {}
            for template in found:
                ident = template["LaunchTemplateId"]
                if ident in default:
                    address = _address(template, tags_of[ident])
                    made[address] = observed_template(region, template, default[ident], tags_of[ident], names,
                                                      wanted.get(address, {}))
            return made

        return observed

    @staticmethod
    def _applied_versions(ec2: Any, templates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Template id -> the version infra applied, for the templates whose default `infra rollback`
        moved (few: one call each); one whose applied version is gone keeps its default."""
        found: dict[str, dict[str, Any]] = {}
        for template in templates:
            applied = tag_dict(template.get("Tags")).get(APPLIED_TAG)
            if applied:
                try:
                    with aws_errors(f"describe version {applied} of {template['LaunchTemplateName']}"):
                        versions = ec2.describe_launch_template_versions(
                            LaunchTemplateId=template["LaunchTemplateId"], Versions=[applied])["LaunchTemplateVersions"]
                except ProviderError:  # deleted by hand: the default is all there is
                    versions = []
                if versions:
                    found[template["LaunchTemplateId"]] = versions[0]
        return found

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        before = action.before or {}
        region: str = cast(str, attributes.get("region") or before.get("region"))  # every resource has one
        ec2 = self.clients.client("ec2", region)
        if action.action is ActionKind.DELETE:
            with aws_errors(f"delete launch template {before.get('name', action.group)}"):
                ec2.delete_launch_template(LaunchTemplateId=before["id"])
            progress(f"deleted launch template {before.get('name', action.group)}")
            return {}
        if action.action is ActionKind.ADOPT:
            self._retag(ec2, before["id"], {}, identity_tags(action.group, self.owner))
            progress(f"tagged launch template {before['name']} ({before['id']}) {OWNER_TAG}={self.owner}, "
                     f"{GROUP_TAG}={action.group}")
            return {"id": before["id"], "name": before["name"], "version": before["version"]}
        data = self._template_data(region, attributes)
        if action.action is ActionKind.CREATE:
            return self._create(ec2, f"{self.owner}.{action.group}", data, attributes["tags"], progress)
        template_id = before["id"]
        version = str(before.get("version", ""))
        changed = set(changed_attributes(action.changes))
        if changed & set(VERSIONED) or action.action is ActionKind.REPLACE:
            version = self._new_version(ec2, template_id, action.group, data, progress)
            if before.get("default_version"):  # a rollback had moved the default: it follows again
                with aws_errors(f"tag launch template {action.group}"):
                    ec2.delete_tags(Resources=[template_id], Tags=[{"Key": APPLIED_TAG}])
            progress(f"launch template {action.group}: new version {version} "
                     f"({', '.join(sorted(changed & set(VERSIONED))) or 'replacement requested'})")
        if "tags" in changed:
            self._retag(ec2, template_id, before.get("tags") or {}, attributes["tags"])
            progress(f"launch template {action.group}: tags updated")
        return {"id": template_id, "name": before.get("name", action.group), "version": version}

    def _create(self, ec2: Any, name: str, data: dict[str, Any], tags: dict[str, str],
                progress: Progress) -> dict[str, Any]:
        """Create the template, version 1. Names are unique in a region: one that exists already is
        this group's when it carries this project's owner tag (made by an apply that died before it
        recorded it, or not yet shown by the describe the plan came from), and gets a new version
        with what is wanted instead of a second template."""
        try:
            with aws_errors(f"create launch template {name}"):
                made = _created(ec2, name, data, tags)
        except _Exists:
            found = self._ours_named(ec2, name)
            version = self._new_version(ec2, found["LaunchTemplateId"], name, data, progress)
            progress(f"launch template {name} ({found['LaunchTemplateId']}) was there already: made version "
                     f"{version} of it the default")
            return {"id": found["LaunchTemplateId"], "name": name, "version": version}
        progress(f"created launch template {made['LaunchTemplateName']} ({made['LaunchTemplateId']}), version 1")
        return {"id": made["LaunchTemplateId"], "name": made["LaunchTemplateName"], "version": "1"}

    def _ours_named(self, ec2: Any, name: str) -> dict[str, Any]:
        with aws_errors(f"describe launch template {name}"):
            found = until_visible(lambda: ec2.describe_launch_templates(LaunchTemplateNames=[name])["LaunchTemplates"],
                                  what=f"launch template {name} to show", service="ec2",
                                  patience=self.clients.patience)
        if not found or tag_dict(found[0].get("Tags")).get(OWNER_TAG) != self.owner:
            raise ProviderError(f"a launch template named {name} exists in AWS but is not tagged "
                                f"{OWNER_TAG}={self.owner}; import it (infra import) or delete it")
        return found[0]

    def _new_version(self, ec2: Any, template_id: str, name: str, data: dict[str, Any], progress: Progress) -> str:
        """A new version of the template, made its default (once EC2 shows the version: it may
        answer VersionNotFound for a moment)."""
        with aws_errors(f"create a version of launch template {name}"):
            made = until_visible(lambda: ec2.create_launch_template_version(
                LaunchTemplateId=template_id, LaunchTemplateData=data,
                VersionDescription="infra apply")["LaunchTemplateVersion"],
                what=f"launch template {template_id} to show", service="ec2", patience=self.clients.patience,
                progress=progress)
            version = str(made["VersionNumber"])
            until_visible(lambda: ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=version),
                          what=f"version {version} of launch template {template_id} to show", service="ec2",
                          patience=self.clients.patience, progress=progress)
        return version

    def _template_data(self, region: str, attributes: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ImageId": attributes["image_id"],
            "InstanceType": attributes["instance_type"],
            "UserData": base64.b64encode(attributes["user_data"].encode()).decode(),
        }
        if attributes.get("security_groups"):
            data["SecurityGroupIds"] = security_group_ids(self.clients, region, attributes["security_groups"])
        if attributes.get("key_name"):
            data["KeyName"] = attributes["key_name"]
        if attributes.get("iam_instance_profile"):
            data["IamInstanceProfile"] = {"Name": attributes["iam_instance_profile"]}
        return data

    @staticmethod
    def _retag(ec2: Any, resource_id: str, before: dict[str, str], after: dict[str, str]) -> None:
        gone = [k for k in before if k not in after]
        with aws_errors(f"tag {resource_id}"):
            if gone:
                ec2.delete_tags(Resources=[resource_id], Tags=[{"Key": k} for k in gone])
            ec2.create_tags(Resources=[resource_id], Tags=tag_list(after))


def point_default(clients: AwsClients, region: str, template_id: str, version: str, progress: Progress) -> None:
    """Make `version` the template's default, as `infra rollback` rolls an ASG to it (or back to the
    version infra applied): what launches from the template's default boots what the group runs.
    While it is not the version infra applied, that one is kept in a tag, for plans to compare with."""
    ec2 = clients.client("ec2", region)
    with aws_errors(f"describe launch template {template_id}"):
        [template] = ec2.describe_launch_templates(LaunchTemplateIds=[template_id])["LaunchTemplates"]
    applied = tag_dict(template.get("Tags")).get(APPLIED_TAG) or str(template["DefaultVersionNumber"])
    with aws_errors(f"make version {version} the default of launch template {template['LaunchTemplateName']}"):
        ec2.modify_launch_template(LaunchTemplateId=template_id, DefaultVersion=version)
        if version == applied:
            ec2.delete_tags(Resources=[template_id], Tags=[{"Key": APPLIED_TAG}])
        else:
            ec2.create_tags(Resources=[template_id], Tags=[{"Key": APPLIED_TAG, "Value": applied}])
    progress(f"launch template {template['LaunchTemplateName']}: default version {version}"
             + ("" if version == applied else f" (infra applied {applied}: plans compare with that)"))


class _Exists(Exception):
    """CreateLaunchTemplate: a template of that name is there already."""


def _created(ec2: Any, name: str, data: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    try:
        return cast(dict[str, Any], ec2.create_launch_template(
            LaunchTemplateName=name, LaunchTemplateData=data,
            TagSpecifications=[{"ResourceType": "launch-template", "Tags": tag_list(tags)}])["LaunchTemplate"])
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "InvalidLaunchTemplateName.AlreadyExistsException":
            raise _Exists() from None
        raise


def _address(template: dict[str, Any], tags: dict[str, str] | None = None) -> str:
    return address_of("launch_template", (tags if tags is not None else tag_dict(template.get("Tags")))[GROUP_TAG])


def _described(region: str, name: str, template_id: str) -> str:
    return f"launch template {name} ({template_id}) in {region}"


def observed_template(region: str, template: dict[str, Any], version: dict[str, Any], tags: dict[str, str],
              names: dict[str, str], wanted: dict[str, Any]) -> Observed:
    data = version.get("LaunchTemplateData", {})
    groups = as_config_names(data.get("SecurityGroupIds", []), names, wanted.get("security_groups"))
    groups = groups or list(data.get("SecurityGroups", []))
    profile = data.get("IamInstanceProfile") or {}
    number = str(version["VersionNumber"])
    attributes = {
        "region": region,
        "image_id": data.get("ImageId"),
        "instance_type": data.get("InstanceType"),
        "security_groups": groups,
        "key_name": data.get("KeyName"),
        "iam_instance_profile": profile.get("Name") or _profile_name(profile.get("Arn")),
        "user_data": _decoded(data.get("UserData")),
        "tags": managed_tags(tags),
        # Not in the desired attributes, so never compared; apply needs them to change or delete it.
        "id": template["LaunchTemplateId"],
        "name": template["LaunchTemplateName"],
        "version": number,
        # The template's default when `infra rollback` pointed it at another version (None otherwise).
        "default_version": str(template["DefaultVersionNumber"]) if tags.get(APPLIED_TAG) else None,
    }
    return Observed.of(attributes, {"id": template["LaunchTemplateId"], "name": template["LaunchTemplateName"],
                                    "version": number})


def _decoded(user_data: str | None) -> str | None:
    if user_data is None:
        return None
    try:
        return base64.b64decode(user_data).decode()
    except (binascii.Error, UnicodeDecodeError):
        return user_data


def _profile_name(arn: str | None) -> str | None:
    return arn.rsplit("/", 1)[-1] if arn else None
