"""Removing AMIs: each deregistered, then its EBS snapshots deleted (they outlive the AMI otherwise)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import botocore.exceptions

from infra.aws.session import aws_errors, error_code
from infra.errors import ProviderError
from infra.providers.base import Progress
from infra.reconciler.retention import Image
from infra.stopping import pause


def deregister(ec2: Any, images: Iterable[Image], progress: Progress) -> None:
    """Deregister each image (one already gone is fine), then delete its snapshots."""
    for image in images:
        with aws_errors(f"deregister {image.id}"):
            try:
                ec2.deregister_image(ImageId=image.id)
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in ("InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"):
                    raise
        for snapshot in image.snapshots:
            _delete_snapshot(ec2, snapshot)
        progress(f"deregistered {image.id} ({image.name}) and deleted {snapshots_named(image)}")


def snapshots_named(image: Image) -> str:
    return f"snapshot(s) {', '.join(image.snapshots)}" if image.snapshots else "no snapshots"


def _delete_snapshot(ec2: Any, snapshot: str, attempts: int = 5) -> None:
    """Delete a snapshot; right after deregistration AWS may still call it in use for a moment."""
    for attempt in range(attempts):
        with aws_errors(f"delete snapshot {snapshot}"):
            try:
                ec2.delete_snapshot(SnapshotId=snapshot)
                return
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) == "InvalidSnapshot.NotFound":
                    return
                if error_code(exc) != "InvalidSnapshot.InUse" or attempt == attempts - 1:
                    raise
        if not pause(2 * (attempt + 1)):
            raise ProviderError(f"infra was stopped (Ctrl-C or SIGTERM) before snapshot {snapshot} was deleted")
