"""The AMIs builds just made, described together: one DescribeImages for the builds that finish
while another such describe is in flight, instead of one each.

After every build infra reads the new AMI (its name, and whether it carries infra's tags). An
apply with many builds at once finished them faster than it could ask one at a time: making
1,000 groups asked 1,000 DescribeImages. Now the first build to finish asks at once; the ones
that finish meanwhile wait for that answer and then go together in the next describe (a group
commit: nothing waits for a batch to fill, so a build finishing alone is answered as soon as
before). AWS refuses a whole DescribeImages when one of its ids is not visible yet; then, and
on any other failure, each build asks alone, as before, with its own error to wait on or report
(consistency.py's until_visible repeats it).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions


@dataclass
class _Ask:
    image_id: str
    answered: threading.Event = field(default_factory=threading.Event)
    images: list[dict[str, Any]] | None = None  # DescribeImages' answer for it, once a describe gave it
    lead: bool = False  # this one sends the next describe, for every ask waiting then


class NewImages:
    """DescribeImages by id, of the AMIs builds made, asked together per region (one account's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Ask]] = {}  # region -> asks for the next describe
        self._asking: set[str] = set()  # regions with a describe in flight

    def described(self, ec2: Any, region: str, image_id: str) -> list[dict[str, Any]]:
        """What DescribeImages(ImageIds=[image_id]) answers (its Images), or raises."""
        ask = _Ask(image_id)
        with self._lock:
            self._waiting.setdefault(region, []).append(ask)
            ask.lead = region not in self._asking
            self._asking.add(region)
        if not ask.lead:
            ask.answered.wait()
        if ask.lead:
            self._describe_waiting(ec2, region)
        if ask.images is not None:
            return ask.images
        return list(ec2.describe_images(ImageIds=[image_id]).get("Images", []))  # alone, as before

    def waiting(self, region: str) -> int:
        """How many asks wait for the next describe in `region`."""
        with self._lock:
            return len(self._waiting.get(region, ()))

    def _describe_waiting(self, ec2: Any, region: str) -> None:
        """One describe for every ask waiting in `region` (one alone: the same request as before, its
        error raised); then the next one waiting, if any, leads."""
        with self._lock:
            batch = self._waiting.pop(region, [])
        try:
            if len(batch) == 1:
                batch[0].images = list(ec2.describe_images(ImageIds=[batch[0].image_id]).get("Images", []))
            else:
                for ask, image in zip(batch, _together(ec2, [ask.image_id for ask in batch]), strict=True):
                    ask.images = None if image is None else [image]
        finally:
            with self._lock:
                following = self._waiting.get(region)
                if following:
                    following[0].lead = True
                    following[0].answered.set()
                else:
                    self._asking.discard(region)
            for ask in batch:
                ask.answered.set()


def _together(ec2: Any, ids: list[str]) -> list[dict[str, Any] | None]:
    """Each id's image from one DescribeImages; None for all when AWS refused it (each then asks
    alone, for its own answer and its own error), and for one it did not answer for."""
    try:
        found = ec2.describe_images(ImageIds=list(dict.fromkeys(ids))).get("Images", [])
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
        return [None] * len(ids)
    images = {image.get("ImageId"): image for image in found}
    return [images.get(image_id) for image_id in ids]
