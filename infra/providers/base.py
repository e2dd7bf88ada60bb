"""The provider interface: observe many resources in few calls, apply one action.

Core code (reconciler/) only sees this interface; it never knows AWS, packer or the file system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from infra.errors import ProviderError
from infra.reconciler.kinds import KINDS, LOCAL_KINDS
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observation, Resource
from infra.state.model import ResourceState

Progress = Callable[[str], None]


class Provider(Protocol):
    kinds: frozenset[str]

    def observe(self, resources: list[Resource]) -> Observation:
        """What exists of `resources` (absent ones are left out), in batches, never one call each.

        May also return this project's resources it found that nobody asked about (orphans), and
        what it found that is not this project's: look-alikes of what was asked about (another
        project's group of the same name), and resources made before infra tagged an owner."""

    def apply(self, action: Action, attributes: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Carry out one action with fully resolved `attributes`; return the outputs to record."""

    # Optional: `interrupt()` stops what the provider runs outside this process (packer) when
    # infra is terminated, so that running actions end soon; see Providers.interrupt.
    # Optional: `finish(applied, report)` runs once an apply has walked its whole plan (not when
    # interrupted), with the actions it applied and `report(action, message)` for progress: work
    # that must wait for every action, like removing AMIs the rolls stopped using.
    # Optional, for `infra import` (a provider of no kind may offer them): `find_importable(kind, id,
    # group, region, wanted, name)` describes one resource made without infra, and
    # `look_alikes(resources)` lists those named like resources a plan would make (providers/aws/adoption.py).
    # Optional: `start_scans(regions)` starts the bulk scans its observe reads in those regions, to page
    # while the plan builds its graph, and `stop_scans()` stops those nobody read (Providers.start_scans).
    # Optional: `confirm(resources, recorded, found)` looks up by id those of `resources` the state
    # records (`recorded`, by address) that observe did not find, or found (`found`) under another
    # `confirmed_by` output (the ASG's name), and returns what AWS shows of them (providers/aws/unlisted.py:
    # AWS's listings lag behind a describe by id); see Providers.confirm.
    # Optional: `check_plan(actions)` raises a located ConfigError for what the plan would use that
    # does not exist outside infra (a security group, a source AMI: providers/aws/plan_checks.py).


class Providers:
    """The providers of one run, by the kinds they handle."""

    def __init__(self, providers: Iterable[Provider]) -> None:
        self.all = list(providers)
        self.by_kind: dict[str, Provider] = {}
        for provider in self.all:
            for kind in provider.kinds:
                self.by_kind[kind] = provider

    def offering(self, method: str) -> list[Any]:
        """The providers with an optional `method` (`find_importable`, `look_alikes`: infra import)."""
        return [provider for provider in self.all if hasattr(provider, method)]

    def start_scans(self, regions: dict[str, set[str | None]]) -> None:
        """Start early the bulk scans observe will read (aws/early_pages.py), in the regions where
        resources of each kind are (`regions`: by kind), so that they page while the caller works."""
        for provider in self.offering("start_scans"):
            wanted = set().union(*(regions.get(kind, ()) for kind in provider.kinds))
            if wanted:
                provider.start_scans(wanted)

    def stop_scans(self) -> None:
        """Stop the scans started early that nobody read (a plan that failed before it observed)."""
        for provider in self.offering("stop_scans"):
            provider.stop_scans()

    def interrupt(self) -> None:
        """Ask providers that run something long outside this process (packer) to stop it now."""
        for provider in {id(p): p for p in self.by_kind.values()}.values():
            stop = getattr(provider, "interrupt", None)
            if stop is not None:
                stop()

    def finish(self, applied: list[Action], report: Callable[[Action, str], None]) -> None:
        """The apply walked its plan: let providers do what had to wait for all of it."""
        for provider in {id(p): p for p in self.by_kind.values()}.values():
            finish = getattr(provider, "finish", None)
            if finish is not None:
                finish(applied, report)

    def confirm(self, observation: Observation, resources: Iterable[Resource],
                recorded: Mapping[str, ResourceState]) -> Observation:
        """`observation` with what AWS shows, asked by id, of the resources the state records
        (`recorded`) that it did not find, or found under another name than recorded (a roll's new
        ASG not listed yet, its old one kept and listed): each provider offering `confirm` is asked
        once, all at the same time, and none when all is found as recorded (a warm plan)."""
        batches: dict[int, tuple[Any, list[Resource]]] = {}
        unowned: set[str] | None = None
        confirming: dict[str, Any] = {}  # by kind: the provider offering `confirm`, else None
        named_by: dict[str, str | None] = {}  # by kind: that provider's `confirmed_by`
        found = observation.found
        for resource in resources:
            provider = confirming.get(resource.kind, confirming)  # the dict itself: not asked yet
            if provider is confirming:
                provider = self.for_kind(resource.kind)
                provider = confirming[resource.kind] = provider if hasattr(provider, "confirm") else None
                named_by[resource.kind] = getattr(provider, "confirmed_by", None)
            if provider is None:
                continue
            address = resource.address
            was = recorded.get(address)
            if was is None:
                continue
            seen, key = found.get(address), named_by[resource.kind]
            if seen is not None and (key is None or seen.outputs.get(key) == was.outputs.get(key)):
                continue
            if unowned is None:
                unowned = {item.address for item in observation.unowned}
            if address not in unowned:
                batches.setdefault(id(provider), (provider, []))[1].append(resource)
        if batches:
            with ThreadPoolExecutor(max_workers=len(batches)) as pool:
                for found in pool.map(lambda batch: batch[0].confirm(batch[1], recorded, observation.found),
                                      batches.values()):
                    observation.found.update(found.found)
        return observation

    def for_kind(self, kind: str) -> Provider:
        try:
            return self.by_kind[kind]
        except KeyError:
            raise ProviderError(f"no provider handles {kind} resources") from None

    def observe(self, resources: Iterable[Resource], kinds: set[str] | None = None, *,
                orphans: bool = False) -> Observation:
        """Ask each provider once, all providers at the same time, about the resources it handles.

        With `orphans` (a plan of everything), once the cloud is asked at all every cloud provider
        is, even with nothing to ask about: it still scans for what infra made and nobody wants
        any more (the ASG of a removed group when no group has one now). Local files alone need
        no cloud."""
        resources = list(resources)
        batches: dict[int, tuple[Provider, list[Resource]]] = {}
        for resource in resources:
            provider = self.for_kind(resource.kind)
            batches.setdefault(id(provider), (provider, []))[1].append(resource)
        also = set(kinds or ())
        if orphans and kinds is None and any(not p.kinds <= LOCAL_KINDS for p, _ in batches.values()):
            also = {kind for kind in self.by_kind if kind not in LOCAL_KINDS}
        asked = {resource.kind for resource in resources} | also
        also |= {kind.name for kind in KINDS.values() if kind.found_with in asked and kind.name in self.by_kind}
        for kind in also:
            provider = self.for_kind(kind)
            batches.setdefault(id(provider), (provider, []))
        observation = Observation()
        if not batches:
            return observation
        with ThreadPoolExecutor(max_workers=len(batches)) as pool:
            for found in pool.map(lambda batch: batch[0].observe(batch[1]), batches.values()):
                observation.add(found)
        if kinds is not None:
            observation.found = {a: o for a, o in observation.found.items() if a.split(".", 1)[0] in kinds}
            observation.unowned = [u for u in observation.unowned if u.address.split(".", 1)[0] in kinds]
            observation.sources = {a: o for a, o in observation.sources.items() if a.split(".", 1)[0] in kinds}
        return observation
