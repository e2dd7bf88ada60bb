"""Build once, promote: an environment later in `__settings__.promote` never builds an AMI; it
copies the one its predecessor built from the same inputs. Pure: no I/O, no AWS.

"The same inputs" is the image digest, tagged `infra:image_digest` on every AMI an environment
builds or promotes: the digest of what the image is made of, and of nothing that legitimately
differs between environments.

- In it: the source image (an AMI id; for `"@group"`, that group's image digest, so a chain is
  the same chain), the Packer template, and the Chef role, whole: chef-solo runs the role while
  packer builds, so its run list and its attributes are baked into the AMI.
- Not in it: the region, the tags, the instance type (of the build instance; the nodes' type is
  the launch template's), the environment's own names in the template (AMI name, temporary key
  pair, the owner in a `@group` source filter, the roles folder), and nothing about the fleet
  (node counts, security groups, target groups, accounts).

An environment's own AMI digest (`infra:source_hash`) keeps deciding when it builds; the image
digest only says which AMI of the predecessor is "the same build".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.errors import InfraError, PromotionPending
from infra.reconciler.actions import ActionKind
from infra.reconciler.diff import attribute_changes, managed_part
from infra.reconciler.order import dependencies_first
from infra.reconciler.plan import Action
from infra.reconciler.refs import digest
from infra.reconciler.resources import Observed, Resource

IMAGE_DIGEST = "image_digest"  # the attribute; the tag is IMAGE_DIGEST_TAG
IMAGE_DIGEST_TAG = "infra:image_digest"
PROMOTED = "promote_from"  # an AMI that is promoted: {"environment", "region"[, "differs"]}
SOURCE = "source"  # in a promote action: the AMI copied (image_id, region, account, name, source_hash)
# What of a Packer template is the environment's, not the image's (tags go before: graph.untagged).
ENVIRONMENT_BUILDER_KEYS = frozenset({"region", "instance_type", "ami_name", "temporary_key_pair_name",
                                      "source_ami_filter", "source_ami", "security_group_ids"})
ENVIRONMENT_VARIABLES = frozenset({"region", "source_ami", "security_group_ids"})
ENVIRONMENT_PROVISIONER_KEYS = frozenset({"roles_path"})
SHOWN = 12  # characters of a digest in messages


@dataclass(frozen=True)
class ImageInputs:
    """What a group's AMI is made of, in one environment."""

    source: str  # an AMI id, or "@" and the source group's image digest
    template: Mapping[str, Any]
    role: Mapping[str, Any]

    @property
    def digest(self) -> str:
        return digest({"source": self.source, "template": self.template, "role": self.role})


def image_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """A Packer template (tags already left out) without what is the environment's."""
    def without(item: Any, keys: frozenset[str]) -> Any:
        return {k: v for k, v in item.items() if k not in keys} if isinstance(item, dict) else item

    return {**template,
            "variables": without(template.get("variables", {}), ENVIRONMENT_VARIABLES),
            "builders": [without(b, ENVIRONMENT_BUILDER_KEYS) for b in template.get("builders", [])],
            "provisioners": [without(p, ENVIRONMENT_PROVISIONER_KEYS) for p in template.get("provisioners", [])]}


def image_inputs(groups: Mapping[str, Any], template_of: Callable[[Any], Mapping[str, Any]],
                 role_of: Callable[[Any], Mapping[str, Any]]) -> dict[str, ImageInputs]:
    """The image inputs of every group that builds an AMI, sources first (a chain by digest)."""
    building = [name for name, group in groups.items() if group.packer]
    inputs: dict[str, ImageInputs] = {}
    for name in dependencies_first(building, lambda name: [groups[name].source_group or ""]):
        group = groups[name]
        source = f"@{inputs[group.source_group].digest}" if group.source_group else group.source_ami
        inputs[name] = ImageInputs(source=source, template=image_template(template_of(group)), role=role_of(group))
    return inputs


def differences(mine: ImageInputs, theirs: ImageInputs) -> str:
    """What differs between two environments' inputs of one image, in words."""
    said = []
    if mine.source != theirs.source:
        said.append("source_ami (or its source group's image)")
    if mine.template != theirs.template:
        said.append("the Packer template (other than region, instance type, tags and the environment's names)")
    if mine.role != theirs.role:
        keys = sorted(k for k in {*mine.role, *theirs.role} if mine.role.get(k) != theirs.role.get(k))
        said.append(f"the Chef role ({', '.join(keys)})")
    return "; ".join(said)


def is_promoted(attributes: Mapping[str, Any] | None) -> bool:
    if type(attributes) is dict:  # a plan's attributes: the ABC checks below cost more than the look-up
        promoted = attributes.get(PROMOTED)
        return promoted is not None and isinstance(promoted, Mapping)
    return isinstance(attributes, Mapping) and isinstance(attributes.get(PROMOTED), Mapping)


def identity(attributes: Mapping[str, Any], build_digest: Callable[[Mapping[str, Any]], str]) -> tuple[str, str]:
    """Which observed attribute names the AMI that `attributes` want, and its value: for a promoted
    AMI the image digest, else the digest of what it is built from (`infra:source_hash`)."""
    if is_promoted(attributes):
        return IMAGE_DIGEST, str(attributes.get(IMAGE_DIGEST))
    return "source_hash", build_digest(attributes)


def promoted_action(resource: Resource, after: dict[str, Any], found: Observed | None, source: Observed | None,
                    recorded: dict[str, Any] | None, base: dict[str, Any]) -> Action:
    """Nothing to do when this environment has an AMI with the image digest wanted (its tags are
    put right in place); else promote `source`, the predecessor's AMI of that digest. With none,
    the plan stops: the predecessor's apply has to build it first."""
    wanted, origin = after[IMAGE_DIGEST], after[PROMOTED]
    match = found.built_from(wanted, IMAGE_DIGEST) if found is not None else None
    if match is not None and match.attributes.get(IMAGE_DIGEST) == wanted:
        reused = "" if match is found else f"; uses {match.outputs.get('image_id')}, an earlier promotion of them"
        seen = managed_part(match.attributes.get("tags"), after.get("tags"), (recorded or {}).get("tags"))
        changes = attribute_changes({"tags": seen}, {"tags": after.get("tags")})
        if changes:
            return Action(action=ActionKind.UPDATE, before={**(recorded or after), "tags": seen}, changes=changes,
                          reason="changed: tags" + reused, outputs=match.outputs, **base)
        return Action(action=ActionKind.NOOP, before=recorded or after, outputs=match.outputs, **base,
                      reason=f"promoted from {origin['environment']}, built there from the same inputs{reused}")
    if source is None:
        raise (InfraError if origin.get("differs") else PromotionPending)(waiting(resource, after))
    copied = {key: source.attributes.get(key) for key in ("image_id", "region", "account", "name", "source_hash")}
    base = {**base, "after": {**after, SOURCE: copied}}
    where = (f" in {copied['region']}: copied to {after['region']}" if copied["region"] != after.get("region")
             else ": copied")
    return Action(action=ActionKind.PROMOTE, before=recorded, outputs={},
                  changes=attribute_changes(recorded, after) if recorded is not None else [],
                  reason=f"{origin['environment']} built {copied['image_id']} ({copied['name']}) from the same "
                         f"inputs{where}", **base)


def waiting(resource: Resource, after: Mapping[str, Any]) -> str:
    """Why a promoted AMI cannot be planned, and what to run: one line."""
    origin, wanted = after[PROMOTED], str(after[IMAGE_DIGEST])
    if origin.get("differs"):
        return (f"{resource.address}: this environment promotes {origin['environment']}'s AMI of {resource.group}, "
                f"but its inputs differ from {origin['environment']}'s: {origin['differs']}; what is baked into an "
                f"AMI must be the same in both (see docs/environments.md), or leave this environment out of "
                f"__settings__.promote")
    return (f"{resource.address}: waiting for {origin['environment']}: no AMI of {resource.group} built from these "
            f"inputs (image digest {wanted[:SHOWN]}) in {origin['environment']} ({origin['region']}) yet; apply "
            f"there first: infra --env {origin['environment']} apply")
