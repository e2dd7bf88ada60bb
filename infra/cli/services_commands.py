"""The service registry commands (services:*): parse, call infra.registry, render. See docs/registry.md."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import typer

from infra.cli.app import Output, app, err, options, out
from infra.config import load_config
from infra.errors import RegistryError
from infra.providers.etcd import DEFAULT_URL
from infra.registry import ATTRIBUTE, DEFAULT_ROOT, Address, Registry, collect
from infra.registry.agent import AgentSpec, agent, check_watch, run_agent
from infra.registry.agent import once as run_once
from infra.registry.announce import announce
from infra.registry.fingerprint import default_record_path
from infra.registry.health import CheckPolicy, parse_checks
from infra.registry.keys import check_service_name
from infra.registry.options import check_seconds, check_ttl, parse_wait
from infra.registry.reconfigure import Reconfigure, dry_run
from infra.registry.render import RenderOnChange, parse_variables, render, render_text
from infra.registry.screen import LeftOut, screen
from infra.registry.watcher import Watcher

ETCD = typer.Option(DEFAULT_URL, "--etcd", envvar="INFRA_ETCD", help="etcd client URL (its v3 JSON gateway).")
PREFIX = typer.Option(DEFAULT_ROOT, "--etcd-prefix", envvar="INFRA_ETCD_PREFIX",
                      help="Key root of this fleet's registry in etcd.")
NODE = typer.Option(..., "--node", help="This node's id (instance id or hostname).")
CHECK = typer.Option([], "--check", help="Register a service only while this status check passes: an http(s) "
                                         "URL (2xx/3xx passes) or a command (exit 0 passes), for every service; "
                                         "SERVICE=URL|CMD for one. Repeat.")
CHECK_INTERVAL = typer.Option(2.0, "--check-interval", help="Seconds between status checks.")
CHECK_TIMEOUT = typer.Option(None, "--check-timeout", help="Seconds a status check may take "
                                                            "[default: 2, or the interval if shorter].")
RISE = typer.Option(2, "--rise", help="Passes in a row before a checked service is registered.")
FALL = typer.Option(3, "--fall", help="Failures in a row before a checked service is withdrawn.")
GRACE = typer.Option(10.0, "--grace", help="Seconds between marking entries leaving and removing them.")


@app.command("services:notify")
def notify(group: str = typer.Argument(..., help="Group the node belongs to."),
           node: str = NODE,
           address: str = typer.Option(..., "--address", help="HOST[:PORT] consumers reach this node at."),
           ttl: int | None = typer.Option(None, "--ttl", help="Expire the entries unless renewed "
                                                                  "within S seconds."),
           check: list[str] = CHECK, check_interval: float = CHECK_INTERVAL,
           check_timeout: float | None = CHECK_TIMEOUT, rise: int = RISE, fall: int = FALL,
           grace: float = GRACE,
           etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """Register this node for every service GROUP runs (with --check: every one whose check passes). Idempotent."""
    check_ttl(ttl)
    check_seconds("--grace", grace)
    policy = CheckPolicy.of(check_interval, check_timeout, rise, fall)
    at = Address.parse(address)
    merged = load_config(options.config, options.env).group(group)
    announce(lambda: Registry.connect(etcd, prefix), group=group, services=merged.services, node=node, address=at,
             ttl=ttl, checks=parse_checks(check, merged.services, group), policy=policy, grace=grace, say=_say)


@app.command("services:decommission")
def decommission(group: str = typer.Argument(..., help="Group the node belongs to now."),
                 node: str = NODE,
                 everything: bool = typer.Option(False, "--all", help="Withdraw every service: the node is "
                                                                       "going away."),
                 grace: float = GRACE,
                 etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """Withdraw what the node registered but GROUP no longer runs: mark leaving, wait, remove."""
    check_seconds("--grace", grace)
    merged = load_config(options.config, options.env).group(group)

    def announced(services: list[str]) -> None:
        _say(f"{node}: {', '.join(services)} marked leaving; removing in {grace:g}s")

    result = Registry.connect(etcd, prefix).decommission(node=node, keep=[] if everything else merged.services,
                                                         grace=grace, announced=announced)
    if result.removed:
        _say(f"{node}: withdrew {', '.join(result.removed)}")
    if result.reregistered:
        _say(f"{node}: kept {', '.join(result.reregistered)} (registered again meanwhile)")
    if not result.removed and not result.reregistered:
        _say(f"{node}: nothing to withdraw")


@app.command("services:collect")
def collect_command(group: str = typer.Argument(..., help="Group the node belongs to."),
                    node: str | None = typer.Option(None, "--node", help="This node's id."),
                    address: str | None = typer.Option(None, "--address", help="This node's HOST[:PORT], "
                                                                                   "when not registered yet."),
                    attribute: str = typer.Option(ATTRIBUTE, "--attribute", help="Top-level dna key."),
                    output: Output = typer.Option(Output.text, "--output", "-o", help="Output format."),
                    etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """The seed's collect-services attributes: what runs here, and where every service runs."""
    config = load_config(options.config, options.env)
    merged = config.group(group)
    snapshot = Registry.connect(etcd, prefix).snapshot()
    _warn_unreadable(snapshot.unreadable)
    known = [service for other in config.groups.values() for service in other.services]
    data = collect(snapshot.entries, group=group, runs=merged.services, known=known, node=node,
                   address=Address.parse(address) if address else None, attribute=attribute)
    if output is Output.json:
        out.print_json(json.dumps(data))
        return
    available = data[attribute]["available"]
    _say(f"available here: {', '.join(s for s, on in available.items() if on) or 'none'}")
    if any(not on for on in available.values()):
        _say(f"no longer run here: {', '.join(s for s, on in available.items() if not on)}")
    for service, where in data[attribute]["services"].items():
        _say(f"{service}: {', '.join(w['node'] + ' ' + w['address'] for w in where) or '-'}")


@app.command("services:list")
def list_command(service: str | None = typer.Argument(None, help="Only this service."),
                 output: Output = typer.Option(Output.text, "--output", "-o", help="Output format."),
                 etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """Where services run, leaving nodes included."""
    if service is not None:
        check_service_name(service)
    snapshot = Registry.connect(etcd, prefix).snapshot()
    _warn_unreadable(snapshot.unreadable)
    by_service = snapshot.by_service()
    if service is not None:
        by_service = {service: by_service.get(service, [])}
    _warn_unrenderable(screen([e for entries in by_service.values() for e in entries], resolve=None).left_out)
    if output is Output.json:
        out.print_json(json.dumps({name: [e.describe() for e in entries] for name, entries in by_service.items()}))
        return
    rows = [["SERVICE", "NODE", "ADDRESS", "GROUP", "STATE", "LEASE"]]
    rows += [[e.service, e.node, str(e.address), e.group, e.state.value, e.lease_id or "-"]
             for entries in by_service.values() for e in entries]
    if len(rows) == 1:
        _say(f"no node runs {service}" if service else "the registry is empty")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        _say("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


@app.command("services:watch")
def watch(group: str = typer.Argument(..., help="Group the node belongs to; its depends_on is watched."),
          node: str = NODE,
          exec_cmd: str | None = typer.Option(None, "--exec", help="Command to run on change (split like a "
                                                                      "shell would, run without one)."),
          debounce: float = typer.Option(2.0, "--debounce", help="Seconds of quiet before CMD runs."),
          once: bool = typer.Option(False, "--once", help="Look once: run CMD if anything changed since "
                                                          "the last recorded run, then exit."),
          ttl: int | None = typer.Option(None, "--ttl", help="Also keep this node registered "
                                                                 "with a lease of S seconds."),
          address: str | None = typer.Option(None, "--address", help="HOST[:PORT] to register (with --ttl "
                                                                        "or --check)."),
          check: list[str] = CHECK, check_interval: float = CHECK_INTERVAL,
          check_timeout: float | None = CHECK_TIMEOUT, rise: int = RISE, fall: int = FALL,
          grace: float = GRACE,
          record: Path | None = typer.Option(None, "--record", help="Where the last run is recorded "
                                                                       "[default: .infra/watch/GROUP-NODE.json]."),
          retry: float = typer.Option(30.0, "--retry", help="Seconds before retrying a failed CMD."),
          etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """Run CMD once per burst of changes to the services GROUP depends on, and/or keep this node
    registered (--ttl, --check); --once for cron."""
    for option, seconds in (("--debounce", debounce), ("--retry", retry), ("--grace", grace)):
        check_seconds(option, seconds)
    check_ttl(ttl)
    merged = load_config(options.config, options.env).group(group)
    spec = AgentSpec(group=group, node=node, depends_on=merged.depends_on, exec_cmd=exec_cmd,
                     services=lambda: load_config(options.config, options.env).group(group).services,
                     record=record or default_record_path(group, node),
                     address=Address.parse(address) if address else None, ttl=ttl,
                     checks=parse_checks(check, merged.services, group),
                     policy=CheckPolicy.of(check_interval, check_timeout, rise, fall), grace=grace,
                     debounce=debounce, retry=retry)
    check_watch(group, merged.depends_on, exec_cmd=exec_cmd, ttl=ttl, address=spec.address, checks=bool(check),
                once=once)
    log = _logger("services:watch")
    connect = lambda: Registry.connect(etcd, prefix)  # noqa: E731
    if once:
        _say(run_once(spec, connect, log))
        return
    with _stop_on(log, signal.SIGTERM, signal.SIGINT):  # the way an agent is stopped: not an error
        run_agent(*agent(spec, connect, log))


@app.command("services:render")
def render_command(template: str = typer.Argument(..., help="jinja2 template, or a shipped one: haproxy.cfg.j2."),
                   out_file: Path = typer.Option(..., "--out", help="File to write."),
                   check_cmd: list[str] = typer.Option([], "--check-cmd", help="Run on the candidate file, named "
                                                                               "{file}, before it replaces FILE; "
                                                                               "FILE is kept if it fails. Repeat."),
                   haproxy: Path | None = typer.Option(None, "--haproxy", help="haproxy's master CLI socket "
                                                                                  "(-S; Debian: /run/haproxy-"
                                                                                  "master.sock): check with haproxy "
                                                                                  "-c, then reload gracefully."),
                   exec_cmd: str | None = typer.Option(None, "--exec", help="Run when the file changed "
                                                                               "(e.g. a reload)."),
                   group: str | None = typer.Option(None, "--group", help="Only the services GROUP depends on."),
                   variables: list[str] = typer.Option([], "--var", help="NAME=VALUE for the template; repeat."),
                   dry: bool = typer.Option(False, "--dry", help="Print the rendered file and what would run; "
                                                                 "write and run nothing."),
                   watch_: bool = typer.Option(False, "--watch", help="Keep running: render again whenever "
                                                                      "the services change."),
                   wait: str = typer.Option("0.5:5", "--wait", help="With --watch: render once the registry has "
                                                                    "been quiet MIN seconds, at most MAX after "
                                                                    "a change (MIN[:MAX])."),
                   retry: float = typer.Option(30.0, "--retry", help="With --watch: seconds before retrying a "
                                                                     "failed render, check or reload."),
                   etcd: str = ETCD, prefix: str = PREFIX) -> None:
    """Render TEMPLATE from the registry; when FILE would change: check the candidate, swap it in
    atomically, reload. --watch keeps doing so."""
    quiet, most = parse_wait(wait)
    check_seconds("--retry", retry)
    how = Reconfigure(tuple(check_cmd), haproxy, exec_cmd)
    how.validate()
    services = load_config(options.config, options.env).group(group).depends_on if group else None
    pairs = parse_variables(variables)
    connect = lambda: Registry.connect(etcd, prefix)  # noqa: E731
    if watch_:
        log = _logger("services:render")
        action = RenderOnChange(template, out_file, how, services=services, variables=pairs, log=log,
                                dry=_print_dry if dry else None)
        with _stop_on(log, signal.SIGTERM, signal.SIGINT):
            Watcher(connect, services, action, quiet=quiet, max_wait=most, retry=retry, log=log).run()
        return
    left_out: list[str] = []
    if dry:
        text = render_text(connect().snapshot(), template, services, pairs, left_out=left_out.append)
        _print_dry(text, dry_run(out_file, text, how))
        _refuse_left_out(left_out, out_file)
        return
    result = render(connect().snapshot(), template, out_file, how, services=services, variables=pairs,
                    progress=_say, left_out=left_out.append)
    if not result.changed:
        skipped = (["reloading haproxy"] if haproxy else []) + ([f"running {exec_cmd}"] if exec_cmd else [])
        _say(f"{out_file} unchanged" + (f"; not {' or '.join(skipped)}" if skipped else ""))
    else:
        _say(f"wrote {out_file}" + "".join(f"; {what}" for what in result.ran))
    _refuse_left_out(left_out, out_file)


def _refuse_left_out(left_out: list[str], out_file: Path) -> None:
    """Each entry a render left out on stderr, then exit 1: the rest was rendered, and a one-shot
    render (a cron job, a chef run) must not look fully done."""
    for line in left_out:
        err.print(f"warning: {line}", markup=False, emoji=False, highlight=False)
    if left_out:
        raise RegistryError(f"{len(left_out)} registry entr{'y' if len(left_out) == 1 else 'ies'} left out of "
                            f"{out_file} (see above); the others are in it")


def _print_dry(text: str, steps: list[str]) -> None:
    """The rendered file on stdout, as it would be written; what would happen on stderr."""
    out.file.write(text)
    out.file.flush()
    for line in ["dry run: nothing is written or run", *steps]:
        err.print(line, markup=False, emoji=False, highlight=False)


def _say(text: str) -> None:
    """Print plain text: node ids and addresses hold ':' and '[', which rich would read as markup or emoji."""
    out.print(text, markup=False, emoji=False, highlight=False)


def _logger(command: str) -> Callable[[str], None]:
    """Log lines of a long-running command: stderr, one per event, with a UTC timestamp."""

    def log(message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        err.print(f"{stamp} {command}: {message}", markup=False, emoji=False, highlight=False)

    return log


def _warn_unrenderable(left_out: list[LeftOut]) -> None:
    """How many entries services:render leaves out, and why (a hostname is checked where the render
    runs, not here)."""
    if left_out:
        err.print(f"warning: {len(left_out)} registry entr{'y' if len(left_out) == 1 else 'ies'} cannot be "
                  f"rendered safely (services:render leaves them out): "
                  + "; ".join(str(item).removeprefix("left out ") for item in left_out),
                  markup=False, emoji=False, highlight=False)


def _warn_unreadable(keys: list[str]) -> None:
    if keys:
        err.print(f"warning: skipped {len(keys)} unreadable registry key(s): {', '.join(keys)}", markup=False,
                  emoji=False, highlight=False)


class _Stopped(Exception):
    """Raised in the main thread by SIGTERM or Ctrl-C, so the agent unwinds (closing streams) and exits 0."""


class _stop_on:
    def __init__(self, log: Callable[[str], None], *signals: int) -> None:
        self.log, self.signals = log, signals
        self._previous: dict[int, Callable[..., object] | int | None] = {}

    def __enter__(self) -> None:
        def handler(signum: int, frame: FrameType | None) -> None:
            raise _Stopped(signal.Signals(signum).name)

        self._previous = {signum: signal.signal(signum, handler) for signum in self.signals}

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, *rest: object) -> bool:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        if kind is _Stopped:
            self.log(f"stopped ({error})")
            return True
        return False
