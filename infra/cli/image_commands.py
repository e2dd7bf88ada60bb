"""AMI commands that are not plain targeted applies: packer:clean, packer:delete."""

from __future__ import annotations

import typer
from rich.markup import escape

from infra.cli.app import app, out
from infra.cli.common import confirmed, workspace
from infra.reconciler.retention import Image


def _say(message: str) -> None:
    out.print(f"[dim]{escape(message)}[/]")


@app.command("packer:clean")
def packer_clean(
    groups: list[str] | None = typer.Argument(None, help="Groups (every group when none is given)."),
    keep: int | None = typer.Option(None, "-n", "--keep", help="Newest AMIs to keep per group (default: the "
                                                                  "group's ami_keep)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
) -> None:
    """Keep each group's newest KEEP AMIs; deregister older ones nothing uses, and delete their snapshots."""
    from infra.operations import images as image_cleanup

    decision = image_cleanup.clean(workspace(), groups or [], keep, _say, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    held = f"; {len(decision.held)} older one(s) kept because they are in use" if decision.held else ""
    groups_kept = len({image.group for image in decision.kept})
    out.print(f"[bold green]packer:clean: kept {len(decision.kept)} AMI(s) in all, each group's newest, across "
              f"{groups_kept} group(s){held}; {verb} {len(decision.removed)}.[/]")


@app.command("packer:delete")
def packer_delete(
    group: str = typer.Argument(..., help="The group whose AMIs and packer template go."),
    allow_destroy: bool = typer.Option(False, "--allow-destroy", help="Also for a group with protect: true."),
    auto_approve: bool = typer.Option(False, "--auto-approve", help="Remove them without asking."),
) -> None:
    """Remove all of GROUP's AMIs, their snapshots and packer/GROUP.json; refuse while any AMI is in use.
    Shows what goes and asks first, as apply does (on a terminal; elsewhere it needs --auto-approve)."""
    from infra.operations import images as image_cleanup

    def confirm(images: list[Image], template: str | None) -> bool:
        out.print(f"[bold]packer:delete {escape(group)} removes:[/]")
        for image in images:
            snapshots = f", snapshots {', '.join(image.snapshots)}" if image.snapshots else ""
            out.print(f"  [red]- {escape(image.id)} ({escape(image.name)}{escape(snapshots)})[/]")
        if template:
            out.print(f"  [red]- {escape(template)}[/]")
        return confirmed("packer:delete", auto_approve)

    removed = image_cleanup.delete(workspace(), group, _say, allow_destroy=allow_destroy, confirm=confirm)
    if removed is not None:
        out.print(f"[bold green]packer:delete: removed {len(removed)} AMI(s) of {escape(group)}.[/]")
