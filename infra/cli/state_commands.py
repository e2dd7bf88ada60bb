"""`infra state ...`: look at and repair the state file."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from infra.cli.app import Output, app, err, out
from infra.cli.common import stdin_is_terminal, workspace
from infra.errors import StateError
from infra.fsutil import read_text
from infra.redact import masked
from infra.state.backend import locked, still_held
from infra.state.local import MAX_STATE_BYTES
from infra.state.lock import LockInfo
from infra.state.model import State

# The output that best names what an address stands for, in `state list`.
IDENTIFYING_OUTPUTS = ("image_id", "instance_id", "name", "id", "path")

state_app = typer.Typer(help="Inspect and repair infra's state.", no_args_is_help=True)
app.add_typer(state_app, name="state")


@state_app.command("list")
def state_list(output: Output = typer.Option(Output.text, "--output", "-o", help="Output format.")) -> None:
    """Every address recorded in state."""
    state = workspace().backend.read()
    if output is Output.json:
        print(json.dumps(sorted(state.resources)))
        return
    if not state.resources:  # said on stderr: scripts reading stdout still see an empty list
        err.print("No resources in state: nothing applied yet (or the state is elsewhere: see __settings__.state).",
                  markup=False, highlight=False)
        return
    width = max((len(a) for a in state.resources), default=0)
    for address in sorted(state.resources):
        outputs = state.resources[address].outputs
        ident = next((str(outputs[k]) for k in IDENTIFYING_OUTPUTS if outputs.get(k)), "")
        print(f"{address:<{width}}  {ident}".rstrip())


@state_app.command("show")
def state_show(address: str,
               output: Output = typer.Option(Output.text, "--output", "-o", help="Output format.")) -> None:
    """What state records for ADDRESS."""
    state = workspace().backend.read()
    if address not in state.resources:
        raise StateError(f"{address} is not in state; infra state list shows what is")
    data = masked(state.resources[address].model_dump(mode="json"))
    if output is Output.json:
        print(json.dumps(data, indent=2))
        return
    out.print(f"[bold]{address}[/]")
    for key, value in data.items():
        out.print(f"  {key} = {json.dumps(value)}", markup=False)


@state_app.command("rm")
def state_rm(address: str) -> None:
    """Forget ADDRESS without touching what it names; a later apply adopts it again if it still exists."""
    ws = workspace()
    with locked(ws.backend, "state rm") as lock:
        state = ws.backend.read()
        if state.resources.pop(address, None) is None:
            raise StateError(f"{address} is not in state; infra state list shows what is")
        state.next_version()
        still_held(ws.backend, lock, before="writing the state")
        ws.backend.write(state)
    out.print(f"Removed {address} from state; nothing else was changed.")


@state_app.command("unlock")
def state_unlock(lock_id: str = typer.Argument(..., help="The lock id the refusal names."),
                 force: bool = typer.Option(False, "--force", "-f",
                                            help="Do not ask before removing a lock held on another host.")) -> None:
    """Remove a lock left by an apply that died (a lock file, an S3 lock object or a DynamoDB item), saying
    who held it and since when. Refused while its holder still runs on this host; asks first when the
    holder ran on another host (as terraform force-unlock does)."""

    def confirm(holder: LockInfo) -> None:
        if force:
            return
        question = (f"The lock is held by {holder.describe()}; infra cannot tell from here whether that run "
                    f"is still going. Remove it?")
        if not stdin_is_terminal():
            raise StateError(f"the lock is held by {holder.describe()}, which may still be running on "
                             f"{holder.host}: run infra state unlock on a terminal to confirm, or pass --force")
        if not typer.confirm(question, default=False):
            raise StateError("unlock cancelled; the lock is still held")

    holder = workspace().backend.force_unlock(lock_id, confirm)
    out.print(f"Unlocked: the lock held by {holder.describe()} is gone.")


@state_app.command("pull")
def state_pull() -> None:
    """Print the current state as JSON (e.g. to keep a copy, or before a migration)."""
    print(workspace().backend.read().to_json(), end="")


@state_app.command("push")
def state_push(path: Path = typer.Argument(..., help="A state file, e.g. .infra/state.json."),
               force: bool = typer.Option(False, "--force",
                                          help="Overwrite even another lineage or a newer serial.")) -> None:
    """Replace the backend's state with PATH (migrating from the local file to S3, for instance)."""
    ws = workspace()
    try:
        incoming = State.from_json(read_text(path, limit=MAX_STATE_BYTES, what="the state"), str(path))
    except FileNotFoundError:
        raise StateError(f"{path}: no such state file") from None
    if not incoming.lineage:  # every state infra writes has one: this is some other JSON file
        raise StateError(f"{path}: not a state file written by infra (it has no lineage); infra state pull "
                         f"prints one")
    with locked(ws.backend, "state push") as lock:
        current = ws.backend.read()
        if not force and current.lineage and incoming.lineage and current.lineage != incoming.lineage:
            raise StateError(f"{path} is another state (lineage {incoming.lineage}, backend has {current.lineage}); "
                             f"pass --force to overwrite it")
        if not force and current.serial > incoming.serial:
            raise StateError(f"the backend's state is newer (serial {current.serial} > {incoming.serial}); "
                             f"pass --force to overwrite it")
        incoming.serial = max(incoming.serial, current.serial)
        incoming.next_version()
        still_held(ws.backend, lock, before="writing the state")
        ws.backend.write(incoming)
    out.print(f"Pushed {path} ({len(incoming.resources)} resource(s)) to {ws.backend.description}.")
