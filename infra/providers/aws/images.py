"""AMIs: found in bulk by their tags, built by packer, removed together with their snapshots.

Every AMI infra builds carries the tags `group`, `infra:managed=true` and `infra:source_hash`
(the digest of the inputs it was built from). A group's newest AMI is its image; the planner
asks for a build when that AMI's hash is not the digest of the inputs nodes.json wants now.
Older AMIs stay until retention (`ami_keep`, `packer:clean`) removes them, never while
something still uses them. Packer runs are image_builds.py's; in an environment that promotes,
AMIs are copied from the one before it (promotion.py) instead of built.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from typing import Any

import botocore.exceptions

from infra.aws.consistency import until_visible
from infra.aws.session import aws_errors, paginate
from infra.errors import InfraError, ProviderError
from infra.providers import packer
from infra.providers.aws.common import (
    AwsContext,
    ByOwner,
    by_owner,
    configured_regions,
    confirmed_by_id,
    identity_tags,
    in_each_region,
    managed_tags,
    tag_list,
    unowned_of,
)
from infra.providers.aws.deregistration import deregister, snapshots_named
from infra.providers.aws.image_builds import PackerBuilds
from infra.providers.aws.image_usage import Recorded, images_in_use
from infra.providers.aws.new_images import NewImages
from infra.providers.aws.promotion import Promotions
from infra.providers.aws.unlisted import Lookup
from infra.providers.base import Progress
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import HASH_TAG, MANAGED_TAG, OWNER_TAG
from infra.reconciler.kinds import AMI
from infra.reconciler.plan import Action
from infra.reconciler.promotion import IMAGE_DIGEST, IMAGE_DIGEST_TAG, identity
from infra.reconciler.resources import Observation, Observed, Resource, address_of
from infra.reconciler.retention import Decision, Image, by_group, choose, newest_by_group, newest_first
from infra.rendering import packer_literal
from infra.state.model import ResourceState

GROUP_TAG = "group"
USABLE_STATES = ("available", "pending")  # a failed or deregistered AMI is not a group's image
# AMIs per DescribeImages page, AWS's most: without MaxResults AWS answers every AMI in one response,
# and 10,000 AMIs' XML and its parse held 120 MB at once (docs/performance.md).
IMAGE_PAGE = 1000
# What the state records and the scan did not list, by id (unlisted.py); EC2 refuses a whole call naming
# one AMI it does not know (or not yet).
AMI_BY_ID = Lookup("ec2", "describe_images", "ImageIds", "Images", "ImageId", output="image_id", batch=200,
                   gone=("InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable"))

class ImagesProvider:
    kinds = frozenset({"ami"})

    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients
        self._lock = threading.Lock()
        self._seen: dict[str, set[str]] = defaultdict(set)  # group -> regions its AMIs were found in
        self._new_images = NewImages()  # what builds made, described together

    def region(self, wanted: str | None) -> str:
        """`wanted`, or the default region when a resource names none (`--region` is already every
        group's region in the config)."""
        return wanted or self.clients.region or "us-east-1"

    # -- observe ---------------------------------------------------------------------------------

    def observe(self, resources: list[Resource]) -> Observation:
        """Each group's newest AMI, and the newest of each other digest it was built from: one
        paginated, tag-filtered describe_images per region.

        AMIs of groups nobody asked about (a group removed from nodes.json) are returned too,
        so the planner removes them; so are AMIs made before owner tags, and other projects'
        AMIs of the groups asked about, to say so."""
        asked = {r.address: self.region(r.attributes.get("region")) for r in resources}
        observation = Observation()
        scanned = set(asked.values()) or set(map(self.region, configured_regions(self.context.config)))
        for found in in_each_region(sorted(scanned), lambda region: self._observe_region(region, asked)):
            observation.add(found)
        # The environment promoted from is asked only for what this one has no AMI of yet (a plan
        # that promotes); a plan with nothing to promote, and drift, never reach its account.
        observation.sources = self.promotions.sources([r for r in resources if not _has_image(
            observation.found.get(r.address), r.attributes.get(IMAGE_DIGEST))])
        return observation

    confirmed_by = AMI_BY_ID.output

    def confirm(self, resources: list[Resource], recorded: dict[str, ResourceState],
                found: dict[str, Observed]) -> Observation:
        """The AMIs the state records and the scan did not list (or not as the group's newest), asked
        for by id (common.py's confirmed_by_id); the scan's earlier ones of a group are kept."""
        def read(region: str, items: list[dict[str, Any]], wanted: dict[str, Any]) -> dict[str, Observed]:
            images = [image for raw in items if raw.get("State") in USABLE_STATES and (image := image_of(raw)).group]
            owners = by_owner(images, lambda image: dict(image.tags), self.owner)
            with self._lock:
                for image in owners.ours:
                    self._seen[image.group].add(region)
            return self._observe_region(region, dict.fromkeys(wanted, region), owners).found

        shown = confirmed_by_id(AMI_BY_ID, self.clients, resources, recorded, found, read,
                                lambda was: self.region(was.attributes.get("region")))
        for address, image in shown.found.items():
            listed = found[address].earlier if address in found else {}
            image.earlier = {**{h: o for h, o in listed.items() if h != image.attributes["source_hash"]},
                             **image.earlier}
        return shown

    def _observe_region(self, region: str, asked: dict[str, str], owners: ByOwner[Image] | None = None
                        ) -> Observation:
        """What one region holds, labelled with that region (asked: address -> the region it is wanted
        in); `owners`: the AMIs to read, when not those the region's scan finds."""
        observation = Observation()
        owners = self._scan(region) if owners is None else owners
        for group, images in by_group(owners.ours).items():
            newest, older = images[0], images[1:]
            address = address_of("ami", group)
            if asked.get(address, region) == region:
                observation.found[address] = observed_image(region, newest, images).model_copy(update={"earlier": {
                    image.source_hash: observed_image(region, image) for image in reversed(older)  # newest of each
                    if image.source_hash and image.source_hash != newest.source_hash}})
        untagged = {address_of("ami", group): observed_image(region, image)
                    for group, image in newest_by_group(owners.untagged).items()}
        theirs = [(address_of("ami", image.group), owner, _described(region, image.id, image.name))
                  for owner, image in owners.theirs]
        observation.unowned += unowned_of(untagged, lambda o: _described(region, o.outputs["image_id"],
                                                                          o.outputs["name"]), theirs, asked)
        return observation

    def images(self, region: str, group: str | None = None) -> list[Image]:
        """This project's usable AMIs in `region` (of one group, or of all), in one paginated call."""
        return self._scan(region, group).ours

    def _scan(self, region: str, group: str | None = None) -> ByOwner[Image]:
        """The usable AMIs infra made in `region` (of one group, or of all), by owner."""
        filters = [{"Name": f"tag:{MANAGED_TAG}", "Values": ["true"]}]
        if group is not None:
            filters.append({"Name": f"tag:{GROUP_TAG}", "Values": [group]})
        ec2 = self.clients.client("ec2", region)
        pages = {"PageSize": IMAGE_PAGE}
        found = [image_of(raw) for raw in paginate(ec2, "describe_images", "Images", Owners=["self"], Filters=filters,
                                                 PaginationConfig=pages) if raw.get("State") in USABLE_STATES]
        images = by_owner([image for image in found if image.group and (group is None or image.group == group)],
                          lambda image: dict(image.tags), self.owner)
        with self._lock:
            for image in images.ours:
                self._seen[image.group].add(region)
        return images

    @property
    def owner(self) -> str:
        return self.context.owner

    @cached_property
    def builds(self) -> PackerBuilds:
        """Packer runs for this project's groups."""
        return PackerBuilds(self.context)

    @cached_property
    def promotions(self) -> Promotions:
        """The AMIs of the environment this one promotes from, and their copies here."""
        return Promotions(self.context)

    # -- apply -----------------------------------------------------------------------------------

    def interrupt(self) -> None:
        packer.interrupt_builds()
        self.clients.interrupt()  # a wait for AWS to show an AMI ends too

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        if action.action is ActionKind.BUILD:
            return self.build(action.group, attributes, progress)
        if action.action is ActionKind.DELETE:
            self.delete_group(action.group, self.regions_of(action.group), progress)
            return {}
        if action.action is ActionKind.UPDATE:
            return self.retag(action.group, attributes, (action.before or {}).get("tags") or {}, progress)
        if action.action is ActionKind.ADOPT:
            return self.adopt(action.group, self.region(attributes.get("region")), progress,
                              images=(action.before or {}).get("images") or [])
        if action.action is ActionKind.PROMOTE:
            outputs = self.promotions.promote(action.group, attributes, progress)
            with self._lock:
                self._seen[action.group].add(self.region(attributes.get("region")))
            return outputs
        raise ProviderError(f"{action.address}: an AMI is built or deleted, never {action.action.verb}")

    def build(self, group: str, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Build the group's AMI with packer (`ami_keep` prunes in `finish`), and mark it as infra's."""
        region = self.region(attributes.get("region"))
        image_id = self.builds.build(group, attributes, region, progress)
        ec2 = self.clients.client("ec2", region)
        with aws_errors(f"describe the new AMI {image_id}"):
            found = until_visible(lambda: self._new_images.described(ec2, region, image_id),
                                  what=f"the new AMI {image_id} to show", service="ec2",
                                  patience=self.clients.patience, progress=progress)
        name = found[0].get("Name", "") if found else ""
        if found:
            self._own(region, group, image_of(found[0]), progress, attributes.get(IMAGE_DIGEST))
            self._tag_literally(region, image_of(found[0]), attributes.get("tags") or {}, progress)
        with self._lock:
            self._seen[group].add(region)
        progress(f"built {image_id} ({name}) in {region}")
        return {"image_id": image_id, "name": name}

    def _tag_literally(self, region: str, image: Image, wanted: Mapping[str, str], progress: Progress) -> None:
        """Tag values holding `{{`, which no Packer template can give an AMI (packer renders tags
        until they stop changing: infra writes them with a word joiner), put on it as written."""
        literal = {key: value for key, value in wanted.items() if packer_literal(value) != value}
        if literal:
            self._tag(region, [image], literal)
            progress(f"tagged {image.id} with {', '.join(literal)} as written in nodes.json")

    def _own(self, region: str, group: str, image: Image, progress: Progress, image_digest: str | None) -> None:
        """Make sure a new AMI carries the marks infra finds its own by: a template written by hand
        (templates/packer.json.j2) may leave them out, and the AMI would be built again and again.
        In an environment, its image digest too: the next environment promotes it by that."""
        marks = {GROUP_TAG: group, MANAGED_TAG: "true", OWNER_TAG: self.owner}
        if image_digest:
            marks[IMAGE_DIGEST_TAG] = image_digest
        missing = {k: v for k, v in marks.items() if dict(image.tags).get(k) != v}
        if missing:
            self._tag(region, [image], missing)
            progress(f"tagged {image.id} {', '.join(f'{k}={v}' for k, v in missing.items())}: the packer template "
                     f"does not set them")

    def finish(self, applied: list[Action], report: Callable[[Action, str], None]) -> None:
        """`ami_keep` for each group this apply changed (a build, a launch template moving to the
        new AMI, a roll), once all of it is done: an AMI they left is no longer in use, so it goes.
        Said under the group's AMI action, or its last one. And the template copies of a killed
        apply go."""
        self.builds.sweep_scratch()
        last: dict[str, Action] = {}
        for action in applied:
            if action.action is ActionKind.ADOPT:  # an adoption (an import) changes nothing else
                continue
            if action.kind == "ami" or last.get(action.group, action).kind != "ami":
                last[action.group] = action
        for group, action in sorted(last.items()):
            settings = self.context.config.groups.get(group)
            if settings is not None and settings.ami_keep and settings.packer:

                def say(message: str, action: Action = action) -> None:
                    report(action, message)

                self._prune(group, self.region(settings.region), settings.ami_keep, say)

    def retag(self, group: str, attributes: dict[str, Any], before: dict[str, str], progress: Progress
              ) -> dict[str, Any]:
        """Give the group's AMI (the newest built from these inputs) and its snapshots the tags
        nodes.json wants now, in place; of the others, take off only those infra put there (`before`)."""
        region = self.region(attributes.get("region"))
        images = newest_first(self.images(region, group))
        if not images:
            raise ProviderError(f"no AMI of {group} found in {region} to tag; plan again")
        key, digest = identity(attributes, AMI.build_digest)  # the group's AMI: the newest of these inputs
        image = next((i for i in images if (i.image_digest if key == IMAGE_DIGEST else i.source_hash) == digest),
                     images[0])
        wanted = {**attributes["tags"], **({IMAGE_DIGEST_TAG: attributes[IMAGE_DIGEST]}
                                           if attributes.get(IMAGE_DIGEST) else {})}
        gone = [key for key in dict(image.tags) if key in before and key not in wanted]
        ec2 = self.clients.client("ec2", region)
        with aws_errors(f"tag {image.id}"):
            if gone:
                ec2.delete_tags(Resources=[image.id, *image.snapshots], Tags=[{"Key": key} for key in gone])
            ec2.create_tags(Resources=[image.id, *image.snapshots],
                            Tags=[{"Key": key, "Value": value} for key, value in wanted.items()])
        progress(f"tagged {image.id} ({image.name})" + (f" and {snapshots_named(image)}" if image.snapshots else "")
                 + " in place")
        return {"image_id": image.id, "name": image.name}

    def adopt(self, group: str, region: str, progress: Progress,
              images: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """Tag `images` (an AMI imported, with its snapshots) or else every AMI of `group` made before
        owner tags as this project's, of `group`."""
        untagged = [Image(id=i["id"], group=group, created="", name=i.get("name", ""),
                          snapshots=tuple(i.get("snapshots") or ())) for i in images]
        untagged = untagged or self._scan(region, group).untagged
        if not untagged:
            raise ProviderError(f"no AMI of {group} without an owner found in {region} to adopt; plan again")
        self._tag(region, untagged, identity_tags(group, self.owner))
        newest = newest_by_group(untagged)[group]
        progress(f"tagged {len(untagged)} AMI(s) and their snapshots {OWNER_TAG}={self.owner}, {GROUP_TAG}={group}, "
                 f"the newest {newest.id} ({newest.name})")
        return {"image_id": newest.id, "name": newest.name}

    def _tag(self, region: str, images: list[Image], tags: dict[str, str]) -> None:
        ec2 = self.clients.client("ec2", region)
        resources = [part for image in images for part in (image.id, *image.snapshots)]
        with aws_errors(f"tag {', '.join(image.id for image in images)}"):
            for start in range(0, len(resources), 1000):
                ec2.create_tags(Resources=resources[start:start + 1000], Tags=tag_list(tags))

    # -- retention -------------------------------------------------------------------------------

    def regions_of(self, group: str) -> list[str]:
        """Where a group's AMIs may be: where they were seen, the regions nodes.json uses, the default."""
        with self._lock:
            seen = set(self._seen.get(group, ()))
        configured = set(map(self.region, configured_regions(self.context.config)))
        return sorted(seen | configured | {self.region(None)})

    def retain(self, region: str, images: list[Image], keep: int | Mapping[str, int], progress: Progress, *,
               dry_run: bool = False) -> Decision:
        """Keep the newest `keep` of each group's `images`, hold those in use, remove the rest. The
        AMI the state records for a group is in use by it, even when older (an earlier build reused)."""
        candidates = choose(images, keep, {}).removed
        in_use: dict[str, list[str]] = {}
        if candidates:
            recorded = self._recorded()
            in_use = images_in_use(self.clients, region, [i.id for i in candidates], recorded=recorded)
            for image in candidates:
                if image.id in recorded.amis:
                    in_use.setdefault(image.id, []).append(f"ami.{image.group} (the AMI infra applied for it)")
        decision = choose(images, keep, in_use)
        for held in decision.held:
            progress(f"kept {held.image.id} ({held.image.name}): in use by {', '.join(held.users)}")
        if dry_run:
            for image in decision.removed:
                progress(f"would deregister {image.id} ({image.name}) and delete {snapshots_named(image)}")
        else:
            self.remove(region, decision.removed, progress)
        return decision

    def _recorded(self) -> Recorded:
        """What the state records that holds on to AMIs (image_usage.Recorded). The state read once."""
        if self.context.state is None:
            return Recorded()
        return Recorded.of(self.context.state.read().resources.items(), self.region)

    def delete_group(self, group: str, regions: Iterable[str], progress: Progress) -> list[Image]:
        """Remove every AMI of `group` and their snapshots; nothing at all when one is in use."""
        found = {region: self.images(region, group) for region in regions}
        users: list[str] = []
        recorded = self._recorded() if any(found.values()) else Recorded()
        for region, images in found.items():
            ids = [i.id for i in images]
            for image_id, used_by in images_in_use(self.clients, region, ids, recorded=recorded).items():
                users.append(f"{image_id} is used by {', '.join(used_by)}")
        if users:
            raise ProviderError(f"refusing to remove the AMIs of {group}, nothing was removed: {'; '.join(users)}; "
                                f"move those off the AMIs first")
        removed: list[Image] = []
        for region, images in found.items():
            self.remove(region, images, progress)
            removed.extend(images)
        if not removed:
            progress(f"no AMIs of {group} found in {', '.join(found)}")
        return removed

    def remove(self, region: str, images: Iterable[Image], progress: Progress) -> None:
        """Deregister each image, then delete its EBS snapshots (they outlive the AMI otherwise)."""
        deregister(self.clients.client("ec2", region), images, progress)

    def _prune(self, group: str, region: str, keep: int, progress: Progress) -> None:
        """`ami_keep` after a build: failing to prune does not fail the apply, it is said."""
        try:
            decision = self.retain(region, self.images(region, group), keep, progress)
        except (InfraError, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            progress(f"warning: could not remove old AMIs (ami_keep {keep}): {exc}")
            return
        if decision.removed:
            progress(f"ami_keep {keep}: removed {len(decision.removed)} older AMI(s)")


def image_of(raw: Mapping[str, Any]) -> Image:
    tags = {t["Key"]: t["Value"] for t in raw.get("Tags", []) if "Key" in t}
    snapshots = tuple(m["Ebs"]["SnapshotId"] for m in raw.get("BlockDeviceMappings", [])
                      if m.get("Ebs", {}).get("SnapshotId"))
    return Image(id=raw["ImageId"], group=tags.get(GROUP_TAG, ""), created=raw.get("CreationDate", ""),
                 name=raw.get("Name", ""), snapshots=snapshots, source_hash=tags.get(HASH_TAG, ""),
                 image_digest=tags.get(IMAGE_DIGEST_TAG, ""), tags=tuple(sorted(managed_tags(tags).items())))


def observed_image(region: str, image: Image, every: Iterable[Image] = ()) -> Observed:
    """The group's newest AMI `image`; `images` lists `every` AMI of the group here, newest first:
    what deleting `ami.GROUP` removes, for the plan to name."""
    images = [{"id": i.id, "name": i.name, "snapshots": list(i.snapshots)}
              for i in sorted(every, key=lambda i: i.created, reverse=True)]
    return Observed.of({"region": region, "source_hash": image.source_hash, "tags": dict(image.tags),
                        IMAGE_DIGEST: image.image_digest, "images": images}, {"image_id": image.id, "name": image.name})


def _has_image(found: Observed | None, image_digest: str | None) -> bool:
    """Whether an AMI of `image_digest` (the newest, or an earlier one) was found."""
    if found is None or not image_digest:
        return False
    return found.built_from(image_digest, IMAGE_DIGEST).attributes.get(IMAGE_DIGEST) == image_digest


def _described(region: str, image_id: str, name: str) -> str:
    return f"AMI {image_id} ({name}) in {region}"
