"""How the planner treats each kind of resource; the one table that knows the kinds apart.

The planner stays generic: it asks this table which action a missing or different resource
needs, and which attribute changes cannot be made in place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.reconciler.actions import ActionKind
from infra.reconciler.refs import digest
from infra.reconciler.scaling import sizes_owned


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    create: ActionKind = ActionKind.CREATE
    # Attribute changes that need a new resource; any other change is an in-place update.
    replace_on: frozenset[str] = field(default_factory=frozenset)
    # Compare by a digest of the desired attributes (recorded on the resource itself, e.g. as an
    # AMI tag) instead of attribute by attribute.
    by_digest: bool = False
    # Only a local file: planning and applying it needs no cloud.
    local: bool = False
    # Made on request (instance:create), not from nodes.json: kept as recorded while its group exists.
    on_request: bool = False
    # Outputs an in-place update keeps (an id, a name): what refers to them need not wait for it.
    kept_on_update: frozenset[str] = field(default_factory=frozenset)
    # Attributes an in-place update changes without making a new version: an update of only these
    # keeps every output (a launch template's tags do not make a new version).
    outside_versions: frozenset[str] = field(default_factory=frozenset)
    # Runs a group's nodes: one that goes is deleted only once the nodes the same plan starts are
    # up, so renaming a group (one group out, another in) never leaves nothing running.
    serves: bool = False
    # `"protect": true` covers it: deleting or replacing it needs --allow-destroy.
    protectable: bool = False
    # The kinds of its own group it is built on (the edges graph.py draws): an orphan found
    # without a state entry is deleted before those, as a recorded one is.
    built_on: frozenset[str] = field(default_factory=frozenset)
    # Never wanted: whatever of it is found is deleted, for this reason (debris of an interrupted build).
    leftover: str = ""
    # Looked for whenever this kind is: where its debris would be.
    found_with: str = ""
    # Attributes that are no thing in AWS (how an ASG rolls): compared with what was applied last,
    # never observed; with nothing recorded (a lost state) they count as what nodes.json wants.
    recorded_only: frozenset[str] = field(default_factory=frozenset)
    # Attributes that are recorded only when the resource's own attributes say so: the sizes an
    # ASG's scaling policies and scheduled actions move (reconciler/scaling.py).
    recorded_when: Callable[[Mapping[str, Any]], frozenset[str]] | None = None
    # (attribute, marker): the observed `marker` is the value of `attribute` that `infra rollback`
    # took the resource back from; while nodes.json still wants that value, the resource is kept.
    rolled_back: tuple[str, str] | tuple[()] = ()
    # A replacement is a blue/green roll, which reconciler/rolls.py describes from the attributes.
    rolls: bool = False

    def recorded(self, attributes: Mapping[str, Any]) -> frozenset[str]:
        """The attributes compared with what was applied last instead of what is observed, for a
        resource with these (desired, or recorded) attributes."""
        return self.recorded_only | (self.recorded_when(attributes) if self.recorded_when else frozenset())

    def build_digest(self, attributes: Mapping[str, Any]) -> str:
        """What a `by_digest` kind is built from: every attribute but those outside versions (an
        AMI's tags are set on the AMI in place, so a new tag is no new build)."""
        return digest({k: v for k, v in attributes.items() if k not in self.outside_versions})


ROLE = Kind("role", "Chef role file", local=True)
PACKER_TEMPLATE = Kind("packer_template", "Packer template file", local=True)
DNA = Kind("dna", "chef-solo dna file", local=True)
# An AMI's image digest (environments only: see promotion.py) is a tag put right in place, like its tags.
AMI = Kind("ami", "AMI built by packer", create=ActionKind.BUILD, by_digest=True,
           outside_versions=frozenset({"tags", "image_digest"}), protectable=True,
           built_on=frozenset({"packer_template", "role"}))
LAUNCH_TEMPLATE = Kind("launch_template", "EC2 launch template", kept_on_update=frozenset({"id", "name"}),
                       outside_versions=frozenset({"tags"}), built_on=frozenset({"ami", "dna"}))
ASG = Kind("asg", "autoscaling group", replace_on=frozenset({"launch_template_version"}),
           kept_on_update=frozenset({"name"}), serves=True, protectable=True,
           built_on=frozenset({"launch_template"}), recorded_only=frozenset({"rollout"}),
           recorded_when=sizes_owned,
           rolled_back=("launch_template_version", "rolled_back_from"), rolls=True)
INSTANCE = Kind("instance", "one-off EC2 instance", on_request=True, serves=True, built_on=frozenset({"ami"}),
                replace_on=frozenset({"image_id", "instance_type", "zone", "key_name", "iam_instance_profile"}))

BUILD_LEFTOVER = Kind("build_leftover", "what a killed packer build left (instance, key pair)", found_with="ami",
                      leftover="left by a packer build that is not running (no build of this project runs while "
                               "an apply holds the lock)")

KINDS: dict[str, Kind] = {k.name: k for k in (ROLE, PACKER_TEMPLATE, DNA, AMI, LAUNCH_TEMPLATE, ASG, INSTANCE,
                                              BUILD_LEFTOVER)}
LOCAL_KINDS = frozenset(name for name, kind in KINDS.items() if kind.local)


def kind_of(name: str) -> Kind:
    """The kind's behaviour; a kind this table does not list is a plain create/update/delete one."""
    return KINDS.get(name) or Kind(name, name)
