"""AWS is eventually consistent: what one call made, the next may not see yet.

AWS documents it for the EC2 API ("Eventual consistency in the Amazon EC2 API",
https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): a resource just made
may be `...NotFound` to a describe by its id, or to another service that uses it, for a while;
Terraform's AWS provider retries each such case (the issues cited below). `NOT_YET` lists, per
service, the errors that mean "not yet" rather than "no", each with where it is shown;
`until_visible(call, ...)` repeats a call that fails with one of them, with exponential backoff
and jitter, for a bounded time (`__settings__.consistency_timeout`, else the environment's
`INFRA_CONSISTENCY_TIMEOUT`, else 120 s), saying what it waits for at least every 10 s, and
fails with one line naming it when the time runs out.

Throttling and 5xx are not here: botocore retries them (session.py's RETRIES, adaptive mode),
and every retry waits its turn in the request rate limit (ratelimit.py).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import botocore.exceptions

from infra.errors import InfraError, ProviderError
from infra.stopping import pause, stop_requested

TIMEOUT_ENV = "INFRA_CONSISTENCY_TIMEOUT"
DEFAULT_TIMEOUT = 120.0  # seconds; AWS says "a few minutes" at worst, the cases above clear in seconds
PROGRESS_EVERY = 10.0  # seconds: the longest silence while waiting
FIRST_DELAY, MAX_DELAY = 0.25, 8.0  # backoff: 0.25, 0.5, 1, 2, 4, 8, 8... seconds (each up to half less)


@dataclass(frozen=True)
class NotYet:
    """An error that means "not visible yet": its code, and a piece of its message where the code
    alone is broader (Auto Scaling says ValidationError for many things)."""

    code: str
    says: str = ""

    def matches(self, code: str, message: str) -> bool:
        return code == self.code and self.says.lower() in message.lower()


EC2_DOC = "https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html"

# Per service (botocore's service name), the errors that mean "not yet"; each with its source.
NOT_YET: dict[str, tuple[NotYet, ...]] = {
    "ec2": (
        # An instance just launched, by id (DescribeInstances, CreateTags): EC2_DOC;
        # terraform-provider-aws #8029 (aws_instance: InvalidInstanceID.NotFound after RunInstances).
        NotYet("InvalidInstanceID.NotFound"),
        # An AMI just made (CreateImage, CopyImage, RegisterImage), by id: EC2_DOC;
        # terraform-provider-aws resource_aws_ami_copy retries it.
        NotYet("InvalidAMIID.NotFound"),
        # The snapshots of an AMI just made: EC2_DOC (InvalidSnapshot.NotFound is in its examples).
        NotYet("InvalidSnapshot.NotFound"),
        # A key pair just imported, used by RunInstances: EC2_DOC; terraform-provider-aws key_pair.
        NotYet("InvalidKeyPair.NotFound"),
        # A launch template or version just made, by id: EC2_DOC; terraform-provider-aws #40088.
        NotYet("InvalidLaunchTemplateId.NotFound"),
        NotYet("InvalidLaunchTemplateId.VersionNotFound"),
        NotYet("InvalidLaunchTemplateName.NotFoundException"),
        # An instance profile just made, used by RunInstances: "Value (x) for parameter
        # iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name" (IAM is eventually
        # consistent: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html).
        NotYet("InvalidParameterValue", "iamInstanceProfile"),
    ),
    "autoscaling": (
        # CreateAutoScalingGroup right after CreateLaunchTemplate(Version): "You must use a valid
        # fully-formed launch template. The specified launch template, with template ID lt-..., does
        # not exist." terraform-provider-aws #5217, #5633, #40088; kubernetes/kops #9637. (Only "does
        # not exist": "...launch template. The requested configuration is currently not supported" is final.)
        NotYet("ValidationError", "does not exist"),
        # An instance profile just made: "Invalid IamInstanceProfile" (terraform-provider-aws #5633
        # and the IAM page above).
        NotYet("ValidationError", "IamInstanceProfile"),
        # Deleting while a scaling activity or the instances still run (terraform-provider-aws #7819,
        # https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DeleteAutoScalingGroup.html).
        NotYet("ResourceInUse"),
        NotYet("ScalingActivityInProgress"),
    ),
    "elbv2": (
        # Registering an instance just launched: "The following targets are not in a running state"
        # / not found (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RegisterTargets.html).
        NotYet("InvalidTarget"),
        NotYet("TargetGroupNotFound"),  # a target group just made, from another client
    ),
    "iam": (
        NotYet("NoSuchEntity"),  # a role or instance profile just made: the IAM page above
    ),
}


def not_yet(service: str, error: botocore.exceptions.ClientError) -> bool:
    """Whether `error` from `service` means "not visible yet" (see NOT_YET)."""
    found = error.response.get("Error", {})
    code, message = str(found.get("Code", "")), str(found.get("Message", ""))
    return any(entry.matches(code, message) for entry in NOT_YET.get(service, ()))


def timeout_from(setting: float | None) -> float:
    """How long to wait for AWS to catch up: `__settings__.consistency_timeout`, else the
    INFRA_CONSISTENCY_TIMEOUT environment variable, else 120 s."""
    if setting is not None:
        return float(setting)
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 3600:
        raise InfraError(f"{TIMEOUT_ENV}={raw!r}: give the seconds to wait for AWS to catch up, 0 to 3600 "
                         f"(default {DEFAULT_TIMEOUT:g})")
    return seconds


@dataclass
class Patience:
    """How one run waits for AWS to catch up: for how long, on which clock, and a sleep that wakes
    at once when infra is stopped: Ctrl-C or SIGTERM (infra/stopping.py), or the apply's
    `interrupt()` of its providers."""

    timeout: float = DEFAULT_TIMEOUT
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], object] | None = None  # None: infra.stopping's pause, or `interrupt()`
    random: random.Random = field(default_factory=random.Random)
    stopping: threading.Event = field(default_factory=threading.Event)

    def interrupt(self) -> None:
        self.stopping.set()

    def stopped(self) -> bool:
        return self.stopping.is_set() or (self.sleep is None and stop_requested())

    def pause(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
            return
        deadline = self.clock() + seconds
        while not self.stopped() and self.clock() < deadline:  # whichever stop comes first wakes it
            pause(min(0.5, deadline - self.clock()))


class NotVisible(ProviderError):
    """AWS still said "not yet" when the time to wait for it ran out (or infra was stopped)."""


T = TypeVar("T")


def until_visible(call: Callable[[], T], *, what: str, service: str, patience: Patience,
                  progress: Callable[[str], None] | None = None) -> T:
    """`call()`, again while `service` answers that something is not visible yet; `what` names
    what is waited for, as in "launch template lt-0ab1 to reach Auto Scaling". Any other error
    is raised at once; botocore's own (throttling, 5xx) were already retried by botocore."""
    start = patience.clock()
    said_at: float | None = None
    attempt = 0
    while True:
        try:
            return call()
        except botocore.exceptions.ClientError as exc:
            if not not_yet(service, exc):
                raise
            error = exc.response.get("Error", {})
            why = f"{error.get('Code')}: {error.get('Message', '')}".rstrip(": .")
        now = patience.clock()
        waited = now - start
        if patience.stopped():
            raise NotVisible(f"infra was stopped (Ctrl-C or SIGTERM) while waiting for {what} ({why})")
        if waited >= patience.timeout:
            raise NotVisible(f"waited {waited:.0f}s for {what}, AWS still says {why}; should it catch up later, apply "
                             f"again, or wait longer with __settings__.consistency_timeout (or {TIMEOUT_ENV})")
        if progress is not None and (said_at is None or now - said_at >= PROGRESS_EVERY):
            progress(f"waiting for {what} (AWS is eventually consistent: {why}); {waited:.0f}s of "
                     f"{patience.timeout:g}s")
            said_at = now
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** attempt)
        attempt += 1
        patience.pause(min(patience.random.uniform(delay / 2, delay), max(0.0, patience.timeout - waited)))
