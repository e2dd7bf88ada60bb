"""What the EC2-side providers share: tags, regions to scan, zones, and security group names.

Each helper answers for many resources in one call, so observation stays one describe per
resource kind per region.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from infra.aws.session import AwsClients, paginate
from infra.errors import ProviderError
from infra.providers.aws.region_facts import region_facts
from infra.providers.aws.unlisted import Lookup, Unlisted, looked_up, made_at_seconds
from infra.reconciler.graph import MANAGED_TAG, OWNER_TAG
from infra.reconciler.resources import Observation, Observed, Resource, Unowned, split_address

if TYPE_CHECKING:
    from infra.aws.access import AwsOptions
    from infra.config import Config
    from infra.state.backend import StateBackend
    from infra.state.model import ResourceState

GROUP_TAG = "group"
MANAGED = {"Name": f"tag:{MANAGED_TAG}", "Values": ["true"]}
# Tags infra keeps for itself on a resource; not part of the `tags` attribute users manage.
MAX_REGIONS_AT_ONCE = 8  # describes in flight per provider; a fleet spans a handful of regions
INTERNAL_TAGS = frozenset({"infra:timeout", "infra:healthy_deadline", "infra:roll", "infra:name", "infra:source_hash",
                           "infra:previous", "infra:rolled_back_from", "infra:image_digest", "infra:scaling",
                           "infra:applied_version", "infra:roll_step", "infra:roll_since", "infra:kept_until",
                           "infra:roll_steps", "infra:kept_since"})


def tag_dict(tags: Iterable[dict[str, Any]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def identity_tags(group: str, owner: str) -> dict[str, str]:
    """The tags infra knows its own resources of a group by: what adopting a resource puts on it (one
    made before owner tags lacks the owner; one made without infra, imported, lacks all three)."""
    return {GROUP_TAG: group, MANAGED_TAG: "true", OWNER_TAG: owner}


def managed_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags a user manages: without AWS's own (aws:...) and infra's bookkeeping tags."""
    return {k: v for k, v in tags.items() if not k.startswith("aws:") and k not in INTERNAL_TAGS}


def regions_of(resources: Iterable[Resource], clients: AwsClients, configured: Iterable[str | None] = ()) -> list[str]:
    """The regions to scan: those of the resources asked about; asked about nothing (a scan for
    orphans only), the `configured` ones (every group's; with `--region`, that one)."""
    found = {r.attributes["region"] for r in resources if isinstance(r.attributes.get("region"), str)}
    if not found:
        found = {region for region in configured if region}
    return sorted(found) or [clients.region or "us-east-1"]


Found = TypeVar("Found")


def in_each_region(regions: Iterable[str], scan: Callable[[str], Found]) -> list[Found]:
    """`scan(region)` for every region at once (each with that region's own client), in region order."""
    regions = list(regions)
    if len(regions) <= 1:
        return [scan(region) for region in regions]
    with ThreadPoolExecutor(max_workers=min(len(regions), MAX_REGIONS_AT_ONCE),
                            thread_name_prefix="region") as pool:
        return list(pool.map(scan, regions))


def configured_regions(config: Config) -> list[str | None]:
    """The regions nodes.json's groups name (None: the default)."""
    return [group.region for group in config.groups.values()]


def wanted_by_address(resources: Iterable[Resource]) -> dict[str, dict[str, Any]]:
    return {r.address: r.attributes for r in resources}


Item = TypeVar("Item")


@dataclass
class ByOwner(Generic[Item]):
    """What one describe call found, sorted by its `infra:owner` tag: this project's, made before
    owner tags (none), and other projects' (by owner)."""

    ours: list[Item] = field(default_factory=list)
    untagged: list[Item] = field(default_factory=list)
    theirs: list[tuple[str, Item]] = field(default_factory=list)


def by_owner(items: Iterable[Item], tags: Callable[[Item], dict[str, str]], owner: str) -> ByOwner[Item]:
    """What another environment of this project made (`<project>/<other>`) is left out altogether:
    it is that environment's, and no look-alike of this one's to warn about."""
    project, _, environment = owner.partition("/")
    sibling = f"{project}/" if environment else None
    sorted_out: ByOwner[Item] = ByOwner()
    for item in items:
        found = tags(item).get(OWNER_TAG)
        if found == owner:
            sorted_out.ours.append(item)
        elif not found:
            sorted_out.untagged.append(item)
        elif sibling is None or not found.startswith(sibling):
            sorted_out.theirs.append((found, item))
    return sorted_out


def unowned_of(untagged: dict[str, Observed], describe: Callable[[Observed], str],
               theirs: Iterable[tuple[str, str, str]], asked: Iterable[str]) -> list[Unowned]:
    """What a provider reports beside its own: every resource made before owner tags (observed,
    so it can be adopted), and other projects' (address, owner, description) look-alikes of the
    groups it was asked about; other projects' other resources are none of this one's business."""
    groups = {split_address(address)[1] for address in asked}
    reported = [Unowned(address=address, owner="", description=describe(observed), observed=observed)
                for address, observed in untagged.items()]
    reported += [Unowned(address=address, owner=owner, description=description)
                 for address, owner, description in theirs if split_address(address)[1] in groups]
    return reported


@dataclass(frozen=True)
class AwsContext:
    """What an AWS provider is given, and all it is given: the validated config, clients on this run's
    account, the ops repository's root (for the files a provider writes: Packer templates, dna files),
    the state (read for what was applied, never written here), and how to reach the account of the
    environment this one promotes from. Not the workspace: providers sit below it."""

    config: Config
    clients: AwsClients
    root: Path = Path(".")
    state: StateBackend | None = None
    upstream: AwsOptions | None = None

    @property
    def owner(self) -> str:
        """This project's name (the `infra:owner` tag of everything it makes)."""
        return self.config.owner


@dataclass(frozen=True)
class Scan:
    """A region's bulk describe of what infra made (by tag), read by observe; a plan starts it early,
    while it builds nodes.json's graph (aws/early_pages.py)."""

    service: str
    operation: str
    key: str
    arguments: dict[str, Any]

    def start(self, clients: AwsClients, regions: Iterable[str]) -> None:
        for region in regions:
            clients.start_scan(self.service, region, self.operation, self.key, **self.arguments)

    def items(self, clients: AwsClients, region: str) -> Iterable[dict[str, Any]]:
        return clients.scan(self.service, region, self.operation, self.key, **self.arguments)


class ObservedPerRegion:
    """A provider that observes with one bulk scan per region: `_observe_region(region, wanted)`
    gets the desired attributes by address and returns what it found there (orphans included).
    `scans` are those it reads in every region it observes: a plan starts them early. With a
    `lookup`, what the state records and the scan did not list is asked for by id (`confirm`), and
    `_observed_by_id(region, items, wanted)` reads those items as the scan's are read."""

    clients: AwsClients
    context: AwsContext
    scans: tuple[Scan, ...] = ()
    lookup: Lookup | None = None

    def start_scans(self, regions: Iterable[str | None]) -> None:
        """Start the scans observe will read in `regions` (where the state records resources of this
        provider's kinds: regions observe asks about, as they are among those it is asked about)."""
        named = sorted({region for region in regions if isinstance(region, str)})
        for scan in self.scans:
            scan.start(self.clients, named)

    def stop_scans(self) -> None:
        self.clients.early.stop()

    @property
    def owner(self) -> str:
        """This project's name: only resources tagged `infra:owner` with it are this provider's."""
        return self.context.owner

    def observe(self, resources: list[Resource]) -> Observation:
        wanted = wanted_by_address(resources)
        observation = Observation()
        regions = regions_of(resources, self.clients, configured_regions(self.context.config))
        for found in in_each_region(regions, lambda region: self._observe_region(region, wanted)):
            observation.add(found)
        return observation

    def _observe_region(self, region: str, wanted: dict[str, dict[str, Any]]) -> Observation:
        raise NotImplementedError

    @property
    def confirmed_by(self) -> str | None:
        """The output naming a resource in AWS: one found under another than recorded is confirmed too."""
        return self.lookup.output if self.lookup is not None else None

    def confirm(self, resources: list[Resource], recorded: dict[str, ResourceState],
                found: dict[str, Observed]) -> Observation:
        """What AWS shows by id of `resources`, which the state records (`recorded`) and observe did not
        find, or `found` under another name (see `confirmed_by_id`)."""
        if self.lookup is None:
            return Observation()
        return confirmed_by_id(self.lookup, self.clients, resources, recorded, found, self._observed_by_id)

    def _observed_by_id(self, region: str, items: list[dict[str, Any]],
                        wanted: dict[str, dict[str, Any]]) -> dict[str, Observed]:
        raise NotImplementedError


Reader = Callable[[str, list[dict[str, Any]], dict[str, dict[str, Any]]], dict[str, Observed]]


def confirmed_by_id(lookup: Lookup, clients: AwsClients, resources: list[Resource], recorded: dict[str, ResourceState],
                    found: dict[str, Observed], read: Reader,
                    region_of: Callable[[ResourceState], Any] = lambda was: was.attributes.get("region"),
                    ) -> Observation:
    """What AWS shows by id (`lookup`) of `resources`, which the state records (`recorded`) and
    observe did not find, or `found` under another name (described too, so that `read(region, items,
    wanted)` reads both as the scan would); waited for a while when made recently (unlisted.py).
    Only this project's, of the groups asked about."""
    by_region: dict[str, list[Unlisted]] = {}
    for resource in resources:
        was = recorded[resource.address]
        ident, region = was.outputs.get(lookup.output), region_of(was)
        if not (isinstance(ident, str) and ident and isinstance(region, str)):
            continue
        by_region.setdefault(region, []).append(Unlisted(resource.address, ident, made_at_seconds(was.made_at)))
        listed = found[resource.address].outputs.get(lookup.output) if resource.address in found else None
        if isinstance(listed, str) and listed and listed != ident:  # never waited for: it was listed
            by_region[region].append(Unlisted(resource.address, listed))
    wanted = wanted_by_address(resources)
    groups = {split_address(address)[:2] for address in wanted}

    def in_region(region: str) -> Observation:
        shown = looked_up(by_region[region], lambda idents: lookup.describe(clients, region, idents),
                          patience=clients.patience)
        items = read(region, list(shown.values()), wanted) if shown else {}
        return Observation(found={address: observed for address, observed in items.items()
                                  if split_address(address)[:2] in groups})

    observation = Observation()
    for region_found in in_each_region(sorted(by_region), in_region):
        observation.add(region_found)
    return observation


def available_zones(clients: AwsClients, region: str) -> list[str]:
    """Every availability zone of `region` that takes instances now (no local or wavelength zones);
    asked once a run (region_facts.py)."""
    return region_facts(clients).zones(region)


def in_wanted_order(found: list[str], wanted: Any) -> list[str]:
    """`found` in the order the config gave, when it holds the same items (AWS does not keep order)."""
    if isinstance(wanted, list) and sorted(found) == sorted(wanted):
        return list(wanted)
    return found


def security_group_ids(clients: AwsClients, region: str, groups: list[str]) -> list[str]:
    """Security group ids for names or ids (ids pass through); a missing name is a clear error.
    Names are looked up once a run (region_facts.py)."""
    names = [g for g in groups if not g.startswith("sg-")]
    if not names:
        return list(groups)
    found = region_facts(clients).security_groups(region, names)
    missing = [n for n in names if n not in found]
    if missing:
        raise ProviderError(f"security group(s) {', '.join(missing)} not found in {region}; create them, or fix "
                            f"security_groups in nodes.json")
    return [g if g.startswith("sg-") else found[g][0] for g in groups]


def security_group_names(clients: AwsClients, region: str, ids: Iterable[str]) -> dict[str, str]:
    """Names of the security groups with these ids, in one call; deleted ones are left out."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    return {g["GroupId"]: g["GroupName"] for g in paginate(clients.client("ec2", region), "describe_security_groups",
                                                           "SecurityGroups",
                                                           Filters=[{"Name": "group-id", "Values": ids}])}


def as_config_names(ids: list[str], names: dict[str, str], wanted: Any) -> list[str]:
    """Security groups in the config's own words: an id where the config gave an id, else the name."""
    wanted = wanted if isinstance(wanted, list) else []
    spoken = [i if i in wanted else names.get(i, i) for i in ids]
    return in_wanted_order(spoken, wanted)
