"""Promotion on AWS: the AMI the previous environment built from the same inputs, copied here.

Found with the previous environment's own access (its profile or role) in the regions its groups
are in: one describe_images per region, by its owner tag and the image digests wanted. Copied with
this environment's access into this environment's region (CopyImage), after sharing the AMI and
its snapshots with this environment's account when the two accounts differ. The copy is this
environment's own AMI, tagged like one it built (its owner, the group, `infra:source_hash` of the
build it copies, `infra:image_digest`): the previous environment's retention, rebuilds and
deletions never touch what this one runs, and this one's `ami_keep` keeps its own rollbacks.

A copy is named `<group>-<environment>-from-<source AMI id>`, unique in a region: a promotion
killed before it tagged its copy finds that copy by name the next time and finishes it.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cached_property
from typing import Any

from infra.aws.consistency import until_visible
from infra.aws.session import AwsClients, aws_errors, paginate, wait_until
from infra.errors import ProviderError
from infra.providers.aws.common import AwsContext, in_each_region, tag_dict, tag_list
from infra.providers.base import Progress
from infra.reconciler.graph import HASH_TAG, MANAGED_TAG, OWNER_TAG
from infra.reconciler.promotion import IMAGE_DIGEST, IMAGE_DIGEST_TAG, PROMOTED, SOURCE, is_promoted
from infra.reconciler.resources import Observed, Resource

FILTER_VALUES = 195  # EC2 takes at most 200 values in one filter
USABLE_STATES = ("available",)  # a copy of a pending AMI would fail
COPY_WAIT = {"delay": 15, "attempts": 480}  # up to two hours: a large AMI copies across regions slowly


class Promotions:
    def __init__(self, context: AwsContext) -> None:
        self.context, self.clients = context, context.clients

    @cached_property
    def upstream(self) -> AwsClients:
        """Clients with the previous environment's access."""
        from infra.aws.access import clients_of

        access = self.context.upstream
        if access is None:
            raise ProviderError("this environment promotes from none (__settings__.promote)")
        return clients_of(access)

    # -- observe ---------------------------------------------------------------------------------

    def sources(self, resources: list[Resource]) -> dict[str, Observed]:
        """For each promoted AMI asked about: the previous environment's newest usable AMI of the image
        digest wanted, when there is one (by the promoted AMI's address)."""
        wanted: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))  # region, digest: addresses
        for resource in resources:
            if is_promoted(resource.attributes):
                origin = resource.attributes[PROMOTED]
                wanted[origin["region"]][resource.attributes[IMAGE_DIGEST]].append(resource.address)
        if not wanted:
            return {}
        found: dict[str, Observed] = {}
        for by_address in in_each_region(sorted(wanted), lambda region: self._scan(region, wanted[region])):
            found.update(by_address)
        return found

    def _scan(self, region: str, addresses: dict[str, list[str]]) -> dict[str, Observed]:
        upstream = self.context.config.upstream
        owner = self.context.config.upstream_owner
        digests = sorted(addresses)
        newest: dict[str, dict[str, Any]] = {}
        ec2 = self.upstream.client("ec2", region)
        for start in range(0, len(digests), FILTER_VALUES):
            filters = [{"Name": f"tag:{OWNER_TAG}", "Values": [owner]},
                       {"Name": f"tag:{MANAGED_TAG}", "Values": ["true"]},
                       {"Name": f"tag:{IMAGE_DIGEST_TAG}", "Values": digests[start:start + FILTER_VALUES]}]
            for raw in paginate(ec2, "describe_images", "Images", Owners=["self"], Filters=filters):
                tags = tag_dict(raw.get("Tags"))
                digest = tags.get(IMAGE_DIGEST_TAG, "")
                if raw.get("State") in USABLE_STATES and tags.get(OWNER_TAG) == owner and digest in addresses:
                    if digest not in newest or _newer(raw, newest[digest]):
                        newest[digest] = raw
        return {address: _source(upstream.name if upstream else "", region, raw)
                for digest, raw in newest.items() for address in addresses[digest]}

    # -- apply -----------------------------------------------------------------------------------

    def promote(self, group: str, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Copy the AMI the plan named into this environment's region (sharing it with this
        environment's account first when it is another's), then tag the copy as this environment's."""
        source, region = attributes[SOURCE], attributes["region"]
        environment = self.context.config.environment_name or ""
        here = self.clients.client("ec2", region)
        if source.get("account") and source["account"] != self.account:
            self._share(source, progress)
        name = f"{group}-{environment}-from-{source['image_id']}"
        image_id = self._copied(here, name)
        if image_id is None:
            with aws_errors(f"copy {source['image_id']} from {source['region']} to {region}"):
                image_id = here.copy_image(SourceImageId=source["image_id"], SourceRegion=source["region"], Name=name,
                                           Description=f"infra: {group}: {source['name']}, promoted from "
                                                       f"{attributes[PROMOTED]['environment']}")["ImageId"]
            progress(f"copying {source['image_id']} ({source['name']}) from {source['region']} to {region} as "
                     f"{image_id}; waiting until it is available")
        else:
            progress(f"found {image_id} ({name}), copied by a promotion that did not finish; finishing it")
        with aws_errors(f"wait for {image_id} to be available"):
            # A copy just made may be unknown by its id for a while; the waiter would fail on that.
            until_visible(lambda: here.describe_images(ImageIds=[image_id]), what=f"the copy {image_id} to show",
                          service="ec2", patience=self.clients.patience, progress=progress)
            wait_until(here, "image_available", ImageIds=[image_id], **COPY_WAIT)
            made = here.describe_images(ImageIds=[image_id])["Images"][0]
        snapshots = [m["Ebs"]["SnapshotId"] for m in made.get("BlockDeviceMappings", [])
                     if m.get("Ebs", {}).get("SnapshotId")]
        tags = {**attributes["tags"], HASH_TAG: source.get("source_hash") or "",
                IMAGE_DIGEST_TAG: attributes[IMAGE_DIGEST]}
        with aws_errors(f"tag {image_id}"):
            here.create_tags(Resources=[image_id, *snapshots], Tags=tag_list(tags))
        progress(f"promoted {source['image_id']} as {image_id} ({name}) in {region}")
        return {"image_id": image_id, "name": name}

    @cached_property
    def account(self) -> str:
        """This environment's account, as its credentials say."""
        with aws_errors("ask STS which account the credentials are of"):
            return self.clients.client("sts").get_caller_identity()["Account"]

    def _share(self, source: dict[str, Any], progress: Progress) -> None:
        """Let this environment's account launch and copy the AMI: its launch permission and its
        snapshots' create-volume permission, given by the account that owns them."""
        ec2 = self.upstream.client("ec2", source["region"])
        with aws_errors(f"share {source['image_id']} with account {self.account}"):
            ec2.modify_image_attribute(ImageId=source["image_id"], LaunchPermission={"Add": [{"UserId": self.account}]})
            image = ec2.describe_images(ImageIds=[source["image_id"]])["Images"][0]
            for mapping in image.get("BlockDeviceMappings", []):
                if mapping.get("Ebs", {}).get("SnapshotId"):
                    ec2.modify_snapshot_attribute(SnapshotId=mapping["Ebs"]["SnapshotId"],
                                                  Attribute="createVolumePermission", OperationType="add",
                                                  UserIds=[self.account])
        progress(f"shared {source['image_id']} and its snapshots with account {self.account}")

    @staticmethod
    def _copied(ec2: Any, name: str) -> str | None:
        """The copy of this name that is here already (names are unique in a region), if any."""
        with aws_errors(f"look for {name}"):
            found = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": [name]}])["Images"]
        usable = [image for image in found if image.get("State") in ("available", "pending")]
        if len(usable) > 1:
            raise ProviderError(f"{len(usable)} AMIs are named {name}; deregister all but one")
        return usable[0]["ImageId"] if usable else None


def _newer(raw: dict[str, Any], than: dict[str, Any]) -> bool:
    return (raw.get("CreationDate", ""), raw.get("Name", "")) > (than.get("CreationDate", ""), than.get("Name", ""))


def _source(environment: str, region: str, raw: dict[str, Any]) -> Observed:
    tags = tag_dict(raw.get("Tags"))
    return Observed(attributes={"environment": environment, "region": region, "image_id": raw["ImageId"],
                                "name": raw.get("Name", ""), "account": raw.get("OwnerId"),
                                "source_hash": tags.get(HASH_TAG, ""), IMAGE_DIGEST: tags.get(IMAGE_DIGEST_TAG, "")},
                    outputs={"image_id": raw["ImageId"]})
