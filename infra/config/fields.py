"""Building blocks of the nodes.json models, shared by models.py and scaling.py."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, ValidationInfo

from infra.records import ManyRecord

# Guards against typos, far above any account's instance quota (and moto would try to launch them).
MAX_NODES = 10_000
DAY = 86_400
# An ELBv2 target group by name (1-32 letters, digits, '-'; AWS's rule) or by ARN.
TARGET_GROUP = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
                          r"|arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:[0-9]{12}:targetgroup/[A-Za-z0-9-]{1,32}/[0-9a-f]+")

NonEmpty = Annotated[str, Field(min_length=1)]


PARTIAL = "partial"  # validation context: the keys one group (or __base__) writes, before merging


def partial(info: ValidationInfo) -> bool:
    """Validating what one group writes before it is merged with __base__: checks across keys wait."""
    return bool(info.context and info.context.get(PARTIAL))


class Strict(ManyRecord):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _target_group(value: str) -> str:
    if not TARGET_GROUP.fullmatch(value):
        raise ValueError(f"{value!r} is neither a target group name (1-32 letters, digits and '-', not at either "
                         f"end) nor a target group ARN (arn:aws:elasticloadbalancing:...:targetgroup/NAME/ID)")
    return value


TargetGroup = Annotated[str, AfterValidator(_target_group)]


def target_group_name(name_or_arn: str) -> str:
    """A target group's name, also from its ARN (`...:targetgroup/web-tg/73e2d6bc24d8a067`)."""
    if name_or_arn.startswith("arn:") and ":targetgroup/" in name_or_arn:
        return name_or_arn.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return name_or_arn
