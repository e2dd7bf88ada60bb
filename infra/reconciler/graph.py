"""The desired graph: from validated config, every resource each group needs and their edges.

    role ─┐
          ├─► ami ─► launch_template ─► asg
    packer_template ─┘        ▲
                        dna ──┘
A group built from `"source_ami": "@other"` also depends on `ami.other`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.config import Config, Group
from infra.config.chef import dna_document, role_document, role_name
from infra.config.environments import owner_of
from infra.config.layout import Layout
from infra.errors import ConfigError
from infra.reconciler.kinds import KINDS
from infra.reconciler.order import Cycle, dependencies_first
from infra.reconciler.promotion import IMAGE_DIGEST, PROMOTED, ImageInputs, differences, image_inputs
from infra.reconciler.refs import digest, parse_ref, ref
from infra.reconciler.resources import Resource, address_of, split_address
from infra.reconciler.scaling import document as scaling_document
from infra.reconciler.shipped_templates import SHIPPED, USER_DATA, shipped_packer_template, shipped_user_data
from infra.rendering import overridden, packer_text, render_json, render_text
from infra.state.model import State

MANAGED_TAG = "infra:managed"
OWNER_TAG = "infra:owner"  # the project (ops repository) that made it: infra touches nothing of another's
HASH_TAG = "infra:source_hash"
PROTECT_TAG = "infra:protect"  # on every AWS resource of a protected group: protection outlives a lost state
BUILDER_TAGS = frozenset({"tags", "snapshot_tags", "run_tags", "run_volume_tags", "spot_tags"})


@dataclass(frozen=True)
class Graph:
    """Resources by address, in a topological order (dependencies first)."""

    resources: dict[str, Resource]

    def __iter__(self):
        return iter(self.resources.values())

    def __contains__(self, address: str) -> bool:
        return address in self.resources

    def __getitem__(self, address: str) -> Resource:
        return self.resources[address]


@dataclass(frozen=True)
class Scope:
    """Whom a group's resources are made for: the owner tagged on them, the environment in their
    names, and where their files go."""

    owner: str
    environment: str | None = None
    layout: Layout = field(default_factory=Layout)

    @classmethod
    def of(cls, project: str, environment: str | None) -> Scope:
        return cls(owner_of(project, environment), environment, Layout(environment))


def desired_graph(config: Config, root: Path | str = ".") -> Graph:
    scope = Scope.of(config.project.name, config.environment_name)
    templates = {name: packer_template(group, root, scope) for name, group in config.groups.items() if group.packer}
    # Environments tag their AMIs with the image digest (promotion.py), by which the next one promotes them.
    inputs = (image_inputs(config.groups, lambda group: untagged(templates[group.name]), group_role)
              if config.environment else {})
    promoted = _promotions(config, root, inputs)
    resources: list[Resource] = []
    for group in config.groups.values():
        resources.extend(group_resources(group, root, scope, template=templates.get(group.name),
                                         inputs=inputs.get(group.name), promote=promoted.get(group.name)))
    return Graph(topological(resources))


def _promotions(config: Config, root: Path | str, inputs: dict[str, ImageInputs]) -> dict[str, dict[str, str]]:
    """For an environment that promotes: where each group's AMI comes from, and, when the group's
    image inputs differ from the predecessor's, what differs (the plan refuses to promote it)."""
    upstream = config.upstream
    if upstream is None:
        return {}
    scope = Scope.of(config.project.name, upstream.name)
    theirs = image_inputs(upstream.groups, lambda group: untagged(packer_template(group, root, scope)), group_role)
    promoted: dict[str, dict[str, str]] = {}
    for name, mine in inputs.items():
        promoted[name] = {"environment": upstream.name, "region": upstream.groups[name].region}
        if theirs[name].digest != mine.digest:
            promoted[name]["differs"] = differences(mine, theirs[name])
    return promoted


def scanned_regions(config: Config) -> dict[str, set[str | None]]:
    """The regions the graph will have ASGs in (by kind, as engine.recorded_regions), read from
    nodes.json without building the graph: a plan starts its ASG scans there first (engine.start_scans)."""
    return {"asg": {group.region for group in config.groups.values() if group.autoscale is not None}}


def group_tags(group: Group, owner: str) -> dict[str, str]:
    """Tags on every AWS resource a group owns: the seed's `group` tag and the ownership marks
    (made by infra, and by which project)."""
    protect = {PROTECT_TAG: "true"} if group.protect else {}
    return {**group.tags, "Name": group.name, "group": group.name, MANAGED_TAG: "true", OWNER_TAG: owner, **protect}


def group_role(group: Group) -> dict[str, Any]:
    return role_document(group.name, group.description, group.default_attributes, group.override_attributes,
                         group.role_run_list)


def packer_template(group: Group, root: Path | str, scope: Scope) -> dict[str, Any]:
    """The group's Packer template, rendered from packer.json.j2 (the ops repository's own, if any;
    the shipped one is built without rendering: shipped_templates.py)."""
    context: dict[str, Any] = {
        "role": role_name(group.name), "source_ami": "" if group.source_group else group.source_ami,
        "tags": group_tags(group, scope.owner), "owner": scope.owner, "environment": scope.environment,
        "roles_path": scope.layout.roles}
    if not overridden(str(root), SHIPPED):
        built = shipped_packer_template(group, **context)
        if built is not None:
            return built
    return render_json(root, SHIPPED, group=group, **context)


def group_user_data(group: Group, dna: dict[str, Any], root: Path | str, environment: str | None) -> str:
    """The user data of the group's launch template (dna: the group's) or of a one-off instance (its
    own), rendered from user-data.sh.j2 (the ops repository's own, if any; the shipped one is built
    without rendering: shipped_templates.py)."""
    if not overridden(str(root), USER_DATA):
        return shipped_user_data(group, dna)
    return render_text(root, USER_DATA, group=group, dna=dna, environment=environment)


def group_resources(group: Group, root: Path | str, scope: Scope, *, template: dict[str, Any] | None = None,
                    inputs: ImageInputs | None = None, promote: dict[str, str] | None = None) -> list[Resource]:
    """What one group needs. In an environment its AMI carries its image digest (`inputs`); in one
    that promotes (`promote`), the AMI is the predecessor's, copied: no template, no build."""
    name = group.name
    role = group_role(group)
    resources = [Resource(kind="role", group=name, attributes={"path": scope.layout.role(name), "document": role})]
    image = source_image(group)
    if group.packer and promote is not None and inputs is not None:
        resources.append(Resource(kind="ami", group=name, protect=group.protect, attributes={
            "region": group.region, IMAGE_DIGEST: inputs.digest, PROMOTED: promote,
            "tags": group_tags(group, scope.owner)}))
    elif group.packer:
        template = template if template is not None else packer_template(group, root, scope)
        resources.append(Resource(kind="packer_template", group=name, attributes={
            "path": scope.layout.packer_template(name), "document": template}))
        depends = [address_of("packer_template", name), address_of("role", name)]
        if group.source_group is not None:
            depends.append(address_of("ami", group.source_group))
        resources.append(Resource(kind="ami", group=name, depends_on=tuple(depends), protect=group.protect, attributes={
            "region": group.region,
            "source_image": image,
            "template_digest": digest(untagged(template)),
            "role_digest": digest(role),
            "tags": ami_tags(template),
            **({IMAGE_DIGEST: inputs.digest} if inputs is not None else {}),
        }))
    if group.autoscale is not None:
        resources.extend(_autoscaling(group, root, image_of(group), scope))
    return resources


def ami_tags(template: dict) -> dict[str, str]:
    """The tags the template puts on the AMI that are known before the build, as packer writes
    them (a value packer fills in, like the source hash or a timestamp, is not compared)."""
    tags: dict[str, str] = {}
    for builder in template.get("builders", []):
        if isinstance(builder, dict) and isinstance(builder.get("tags"), dict):
            for written_key, written_value in builder["tags"].items():
                key, value = packer_text(str(written_key)), packer_text(str(written_value))
                if key is not None and value is not None and key != HASH_TAG:
                    tags[key] = value
    return tags


def untagged(template: dict) -> dict:
    """The Packer template without the tags its builders set: what an AMI is built from. Tags
    are put on the AMI in place, so a changed tag does not build (and roll) anything."""
    builders = [{k: v for k, v in builder.items() if k not in BUILDER_TAGS} if isinstance(builder, dict) else builder
                for builder in template.get("builders", [])]
    return {**template, "builders": builders}


def source_image(group: Group) -> str:
    """What the group's AMI is built from: an AMI id, or a reference to another group's AMI."""
    if group.source_group is not None:
        return ref(address_of("ami", group.source_group), "image_id")
    return group.source_ami


def image_of(group: Group) -> str:
    """The image the group's instances boot: its own AMI, or (without packer) its source image."""
    return ref(address_of("ami", group.name), "image_id") if group.packer else source_image(group)


def with_recorded(graph: Graph, state: State, groups: Iterable[str]) -> Graph:
    """The graph plus what infra made on request (one-off instances), as recorded, while its group exists.

    Such resources are not in nodes.json, so without this the planner would delete them.
    """
    groups = set(groups)
    carried = [Resource(kind=recorded.kind, group=recorded.group, name=split_address(address)[2],
                        attributes=recorded.attributes, depends_on=tuple(recorded.depends_on))
               for address, recorded in state.resources.items()
               if address not in graph and recorded.group in groups and recorded.kind in KINDS
               and KINDS[recorded.kind].on_request]
    if not carried:
        return graph
    return Graph(topological([*graph, *carried]))


def _autoscaling(group: Group, root: Path | str, image: str, scope: Scope) -> list[Resource]:
    name, scale, owner = group.name, group.autoscale, scope.owner
    assert scale is not None
    dna = dna_document(name, name)
    user_data = group_user_data(group, dna, root, scope.environment)
    source = parse_ref(image)
    image_source = [source[0]] if source else []
    template = Resource(kind="launch_template", group=name,
                        depends_on=(*image_source, address_of("dna", name)), attributes={
                            "region": group.region,
                            "image_id": image,
                            "instance_type": group.instance_type,
                            "security_groups": group.security_groups,
                            "key_name": group.key_name,
                            "iam_instance_profile": group.iam_instance_profile,
                            "user_data": user_data,
                            "tags": group_tags(group, owner),
                        })
    asg = Resource(kind="asg", group=name, depends_on=(template.address,), protect=group.protect, attributes={
        "region": group.region,
        "min_size": scale.node_min,
        "max_size": scale.node_max,
        "desired_capacity": scale.desired_capacity,
        "zones": scale.zones,
        "subnets": scale.subnets,
        "health_check_type": scale.health_check,
        "health_check_grace": scale.health_check_grace,
        "termination_policies": scale.termination_policies,
        "launch_template_id": ref(template.address, "id"),
        "launch_template_version": ref(template.address, "version"),
        "timeout": scale.timeout,
        "healthy_deadline": scale.healthy_deadline,
        "target_groups": scale.target_groups,
        # How a roll goes; not a thing in AWS, so compared with what was applied (kinds.py: recorded_only).
        "rollout": scale.rollout.document() if scale.rollout is not None else None,
        # Policies and scheduled actions: part of the ASG, so a roll carries them (reconciler/scaling.py).
        "scaling": scaling_document(scale.scaling, scale.target_groups),
        "tags": group_tags(group, owner),
    })
    dna_file = Resource(kind="dna", group=name, attributes={"path": scope.layout.group_dna(name), "document": dna})
    return [dna_file, template, asg]


def topological(resources: Iterable[Resource]) -> dict[str, Resource]:
    """Resources ordered so each comes after what it depends on; stable for equal inputs."""
    by_address = {r.address: r for r in resources}
    try:
        order = dependencies_first(by_address, lambda address: by_address[address].depends_on)
    except Cycle as cycle:
        raise ConfigError(f"dependency cycle: {cycle}") from None
    return {address: by_address[address] for address in order}
