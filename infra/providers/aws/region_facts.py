"""What a run asks of a region again and again, and AWS does not change under it: the zones that
take instances, and the ids of security groups by name.

An apply that makes 1,000 groups asked for both once per group (a launch template's security
groups, a Packer build's, an ASG's zones): 3,000 requests with the same answers. Each is now asked
once per region (security groups: once per set of names not yet found) and the answer kept for the
run, that is for as long as the `AwsClients` it was asked with (one account; a new command, a new
one). Names a describe did not find are asked again next time, so a missing security group is
still reported from a fresh answer. infra never makes nor deletes security groups or zones.

The facts are kept by their `AwsClients` weakly, and refer to them weakly too: facts that held their
clients would keep their own key alive, and with it every run's clients (boto3 sessions and
clients, some 25 MB each) for as long as the process lives (a test suite's thousands of runs).
"""

from __future__ import annotations

import threading
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from infra.aws.session import AwsClients, aws_errors, paginate


class RegionFacts:
    """The zones and security groups of each region, asked once for a run and shared by its threads."""

    def __init__(self, clients: AwsClients) -> None:
        self._clients = _referred_to(clients)
        self._zones: dict[str, list[str]] = {}
        self._groups: dict[str, dict[str, list[str]]] = defaultdict(dict)  # region -> name -> ids
        # One describe at a time per region: 50 threads asking at once ask AWS once; regions, observed
        # at once, do not wait for each other's answers.
        self._locks: dict[str, threading.Lock] = {}

    def _ec2(self, region: str) -> Any:
        clients = self._clients()
        assert clients is not None, "region facts asked for through clients no one holds"
        return clients.client("ec2", region)

    def _lock(self, region: str) -> threading.Lock:
        return self._locks.setdefault(region, threading.Lock())  # one dict operation: atomic under the GIL

    def zones(self, region: str) -> list[str]:
        """Every availability zone of `region` that takes instances now (no local or wavelength zones)."""
        with self._lock(region):
            if region not in self._zones:
                with aws_errors(f"describe availability zones of {region}"):
                    found = self._ec2(region).describe_availability_zones(
                        Filters=[{"Name": "state", "Values": ["available"]}])["AvailabilityZones"]
                self._zones[region] = sorted(z["ZoneName"] for z in found
                                             if z.get("ZoneType", "availability-zone") == "availability-zone")
            return list(self._zones[region])

    def security_groups(self, region: str, names: Iterable[str]) -> dict[str, list[str]]:
        """The ids of the security groups named `names` in `region` (several where a name is in
        several VPCs), in AWS's order; a name found nowhere is left out."""
        names = list(dict.fromkeys(names))
        with self._lock(region):
            known = self._groups[region]
            unknown = [n for n in names if n not in known]
            if unknown:
                found: dict[str, list[str]] = defaultdict(list)
                for group in paginate(self._ec2(region), "describe_security_groups",
                                      "SecurityGroups", Filters=[{"Name": "group-name", "Values": unknown}]):
                    found[group["GroupName"]].append(group["GroupId"])
                known.update(found)
            return {n: list(known[n]) for n in names if n in known}


def _referred_to(clients: AwsClients) -> Callable[[], AwsClients | None]:
    """A weak reference to `clients`; a plain one to a stand-in that has none (never kept in _facts)."""
    try:
        return weakref.ref(clients)
    except TypeError:
        return lambda: clients


_facts: weakref.WeakKeyDictionary[AwsClients, RegionFacts] = weakref.WeakKeyDictionary()
_facts_lock = threading.Lock()


def region_facts(clients: AwsClients) -> RegionFacts:
    """The facts kept for `clients` (one run's); a fresh, unkept one for clients that cannot be
    referred to weakly (a test's stand-in)."""
    with _facts_lock:
        try:
            facts = _facts.get(clients)
            if facts is None:
                facts = _facts[clients] = RegionFacts(clients)
        except TypeError:
            return RegionFacts(clients)
        return facts
