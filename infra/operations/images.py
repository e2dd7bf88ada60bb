"""The packer:clean and packer:delete commands: retention and removal of a group's AMIs, on request.

Both hold the state lock, like an apply, and check it is still theirs just before they remove
anything or write the state, as an apply does before each step and state write; they work through
the AMI provider (images.py), which knows how to find this project's AMIs, what uses them, and how
to remove one with its snapshots.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from infra.config.models import check_group_name
from infra.errors import InfraError
from infra.providers.aws.images import ImagesProvider
from infra.providers.base import Progress
from infra.reconciler.graph import PROTECT_TAG
from infra.reconciler.resources import address_of
from infra.reconciler.retention import Decision, Image
from infra.state.backend import locked, still_held

if TYPE_CHECKING:
    from infra.workspace import Workspace


def clean(workspace: Workspace, groups: Iterable[str], keep: int | None, progress: Progress, *,
          dry_run: bool = False) -> Decision:
    """Keep the newest `keep` AMIs of each group (or its `ami_keep`), remove the older unused ones."""
    if keep is not None and keep < 1:
        raise InfraError(f"-n {keep}: keep at least 1 AMI; to remove every AMI of a group use packer:delete GROUP")
    config = workspace.config
    chosen = config.select(list(groups))
    counts = {g.name: keep if keep is not None else g.ami_keep for g in chosen}
    without = sorted(name for name, count in counts.items() if count is None)
    if len(without) == len(counts):
        raise InfraError("how many AMIs to keep? give -n KEEP, or set ami_keep on the group in nodes.json")
    if without:
        progress(f"skipped {', '.join(without)}: no -n KEEP given and no ami_keep in nodes.json")
    provider = _provider(workspace)
    by_region: dict[str, dict[str, int]] = defaultdict(dict)
    for name, count in counts.items():
        if count is not None:
            by_region[provider.region(config.groups[name].region)][name] = count
    total = Decision()
    with locked(workspace.backend, "packer:clean") as lock:
        for region, wanted in sorted(by_region.items()):
            images = [image for image in provider.images(region) if image.group in wanted]
            if not dry_run:  # what another region removed already is said above; nothing more goes
                still_held(workspace.backend, lock, before=None if total.removed else "removing any AMI")
            decision = provider.retain(region, images, wanted, progress, dry_run=dry_run)
            total.kept.extend(decision.kept)
            total.held.extend(decision.held)
            total.removed.extend(decision.removed)
    return total


def delete(workspace: Workspace, group: str, progress: Progress, *, allow_destroy: bool = False,
           confirm: Callable[[list[Image], str | None], bool] = lambda images, template: True) -> list[Image] | None:
    """Remove every AMI of `group`, their snapshots and packer/GROUP.json; nothing else. `confirm`
    is shown what goes (the AMIs found, the template file if there is one) and may refuse: None."""
    try:
        check_group_name(group)  # it names a file to delete: "../nodes" would be nodes.json
    except ValueError as exc:
        raise InfraError(f"packer:delete: {exc}") from None
    config = workspace.config
    settings = config.groups.get(group)
    recorded = workspace.backend.read().resources.get(address_of("ami", group))
    protected = settings.protect if settings is not None else recorded is not None and recorded.protect
    if protected and not allow_destroy:
        where = "nodes.json" if settings is not None else "nodes.json when it was last applied"
        raise InfraError(f"group {group} is protected (protect: true in {where}); pass --allow-destroy to "
                         f"remove its AMIs")
    provider = _provider(workspace)
    regions = provider.regions_of(group)
    written = config.layout.packer_template(group)
    template = workspace.root / written
    with locked(workspace.backend, "packer:delete") as lock:
        found = [image for region in regions for image in provider.images(region, group)]
        if settings is None and not template.exists() and not found:
            config.group(group)  # neither in nodes.json nor left over: the unknown-group error
        tagged = [image.id for image in found if dict(image.tags).get(PROTECT_TAG) == "true"]
        if settings is None and tagged and not allow_destroy:  # a removed group, maybe with its state lost
            raise InfraError(f"group {group} was protected: {', '.join(tagged)} carry {PROTECT_TAG}=true; pass "
                             f"--allow-destroy to remove its AMIs")
        if (found or template.exists()) and not confirm(found, str(written) if template.exists() else None):
            return None
        still_held(workspace.backend, lock, before="removing any AMI")  # the question may have waited long
        removed = provider.delete_group(group, regions, progress)
        if template.exists():
            template.unlink()
            progress(f"removed {written}")
        state = workspace.backend.read()
        forgotten = [a for a in (address_of("ami", group), address_of("packer_template", group))
                     if state.resources.pop(a, None) is not None]
        if forgotten:
            state.next_version()
            still_held(workspace.backend, lock)  # the AMIs are gone: an apply's words, what finished is not recorded
            workspace.backend.write(state)
            progress(f"forgot {', '.join(forgotten)} from the state")
    return removed


def _provider(workspace: Workspace) -> ImagesProvider:
    provider = workspace.providers.for_kind("ami")
    if not isinstance(provider, ImagesProvider):
        raise InfraError("AMIs are handled by another provider here; packer:clean and packer:delete need AWS")
    return provider
