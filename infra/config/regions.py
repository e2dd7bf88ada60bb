"""The AWS regions there are, as botocore (the AWS library infra uses) knows them.

Read from botocore's partitions.json (7 KB) without importing botocore, so `infra validate` stays
quick. A region AWS opened after this botocore was released is not in it: upgrading boto3 adds it.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (empty when its data cannot be read: then
    nothing is refused for being unknown)."""
    spec = importlib.util.find_spec("botocore")
    for location in (spec.submodule_search_locations or []) if spec else []:
        try:
            data = json.loads((Path(location) / "data" / "partitions.json").read_text())
        except (OSError, ValueError):
            continue
        return frozenset(region for partition in data.get("partitions", [])
                         for region in partition.get("regions", {}) if not region.endswith("-global"))
    return frozenset()


def unknown_region_problem(name: str) -> str | None:
    """Why `name` is not a region AWS has, with the closest one that is; None when it is one."""
    known = known_regions()
    if not known or name in known:
        return None
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    try:
        botocore = f"botocore {version('botocore')}"
    except PackageNotFoundError:
        botocore = "botocore"
    return (f"{name!r} is not an AWS region ({botocore} knows {len(known)}); {hint}if AWS opened it since, "
            f"upgrade boto3")
