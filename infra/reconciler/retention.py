"""Which AMIs to remove: keep each group's newest few, never one that something still uses.

Pure: the AWS provider lists the images and what uses them; this module only decides. The
newest KEEP images of a group are kept whether used or not; of the older ones, those in use by
a launch template, an autoscaling group or an instance are held back (and the caller says so),
the rest go. Removing everything of a group is the same choice with KEEP 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Image:
    id: str
    group: str
    created: str  # EC2's CreationDate, ISO 8601 in UTC: as text it sorts in time order
    name: str = ""
    snapshots: tuple[str, ...] = ()
    source_hash: str = ""  # the digest of what it was built from (its infra:source_hash tag)
    image_digest: str = ""  # in an environment, the digest of what the image is made of (infra:image_digest)
    tags: tuple[tuple[str, str], ...] = ()  # its other tags, as (key, value) pairs


@dataclass(frozen=True)
class Held:
    """An image retention would remove, kept because something uses it."""

    image: Image
    users: tuple[str, ...]


@dataclass
class Decision:
    kept: list[Image] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
    removed: list[Image] = field(default_factory=list)


def newest_first(images: Iterable[Image]) -> list[Image]:
    """Newest first; images made in the same second are ordered by name (it holds the build time), then id."""
    return sorted(images, key=lambda image: (image.created, image.name, image.id), reverse=True)


def newest_by_group(images: Iterable[Image]) -> dict[str, Image]:
    newest: dict[str, Image] = {}
    for image in newest_first(images):
        newest.setdefault(image.group, image)
    return newest


def by_group(images: Iterable[Image]) -> dict[str, list[Image]]:
    """Each group's images, newest first, groups in name order."""
    grouped: dict[str, list[Image]] = {}
    for image in newest_first(images):
        grouped.setdefault(image.group, []).append(image)
    return dict(sorted(grouped.items()))


def choose(images: Iterable[Image], keep: int | Mapping[str, int], in_use: Mapping[str, Sequence[str]]) -> Decision:
    """Keep the newest `keep` images of each group (a number, or one per group); of the others,
    hold those `in_use` names (image id -> who uses it) and remove the rest."""
    decision = Decision()
    for group, images_of_group in by_group(images).items():
        count = keep if isinstance(keep, int) else keep[group]
        if count < 0:
            raise ValueError(f"cannot keep {count} images of {group}")
        decision.kept.extend(images_of_group[:count])
        for image in images_of_group[count:]:
            users = tuple(in_use.get(image.id, ()))
            if users:
                decision.held.append(Held(image, users))
            else:
                decision.removed.append(image)
    return decision
