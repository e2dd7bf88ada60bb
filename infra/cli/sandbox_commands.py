"""`infra sandbox start|stop|status`: the local AWS (a moto server) for trying infra safely."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer

from infra.aws.access import AwsOptions
from infra.cli.app import app, options, out
from infra.cli.common import workspace
from infra.config import Config, load_config
from infra.sandbox.hostile import Knobs
from infra.sandbox.launcher import Sandbox, exports
from infra.workspace import Workspace

sandbox_app = typer.Typer(help="Run a local AWS (moto server) seeded with nodes.json's source AMIs.",
                          no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("start")
def sandbox_start(port: int = typer.Option(0, "--port", min=0, max=65535,
                                           help="Port on 127.0.0.1 (a free one when 0)."),
                  hostile: bool = typer.Option(False, "--hostile",
                                               help="Behave as AWS does on a bad day: latency, throttling, 5xx, "
                                                    "what was just made invisible for a while, instances pending, "
                                                    "targets initial, failed launches in one zone, AMIs pending "
                                                    "(docs/aws-behaviour.md)."),
                  seed: int | None = typer.Option(None, "--hostile-seed", metavar="N",
                                                     help="Seed of the hostile sandbox's faults (implies --hostile); "
                                                          "the same seed replays them. Random when not given."),
                  knobs: list[str] = typer.Option([], "--knob", metavar="NAME=VALUE",
                                                  help="Set one of the hostile sandbox's knobs (implies --hostile), "
                                                       "e.g. --knob throttle=0.1 --knob lag=10; repeatable.")) -> None:
    """Start the sandbox in the background and print the line that points infra at it."""
    bad_day = None
    if hostile or seed is not None or knobs:
        bad_day = Knobs.parse(knobs, seed=secrets.randbelow(10**6) if seed is None else seed)
    config = load_config(options.config)  # one sandbox for every environment: seeded with what any names
    groups = [g for merged in (config.groups, *(e.groups for e in config.environments.values()))
              for g in merged.values()]
    amis = [g.source_ami for g in groups if g.source_group is None]
    security_groups = sorted({sg for g in groups for sg in g.security_groups})
    scales = [g.autoscale for g in groups if g.autoscale is not None]
    target_groups = sorted({t for scale in scales for t in scale.target_groups})
    alarms = sorted({a for scale in scales if scale.rollout for a in scale.rollout.alarms})
    server, started = Sandbox(workspace().root).start(amis, port=port, security_groups=security_groups,
                                                      target_groups=target_groups, alarms=alarms, hostile=bad_day)
    seeded = [*sorted(set(amis)), *(f"target group {t}" for t in target_groups if not t.startswith("arn:")),
              *(f"alarm {a}" for a in alarms), *_state_storage(config, server.endpoint_url)]
    out.print(("Started" if started else "Already running:") + f" sandbox at {server.endpoint_url} "
              f"(pid {server.pid}), seeded with {', '.join(seeded) or 'no AMIs'}", highlight=False)
    _say_hostile(server.hostile)
    if not started and bad_day is not None and server.hostile is None:
        out.print("It is not hostile: stop it (infra sandbox stop) and start it again with --hostile.")
    out.print("Point infra at it with:")
    print(exports(server))


def _say_hostile(knobs: Knobs | None) -> None:
    if knobs is not None:
        out.print(f"Hostile: {knobs.said()} (replay with --hostile-seed {knobs.seed})", highlight=False)


@sandbox_app.command("stop")
def sandbox_stop() -> None:
    """Stop the sandbox; everything in it is gone."""
    stopped = Sandbox(workspace().root).stop()
    out.print("Stopped the sandbox." if stopped else "The sandbox was not running.")


@sandbox_app.command("status")
def sandbox_status() -> None:
    """Whether the sandbox runs, and where. Exit 1 when it does not."""
    server = Sandbox(workspace().root).running()
    if server is None:
        out.print("The sandbox is not running; start it with: infra sandbox start")
        raise typer.Exit(1)
    out.print(f"The sandbox runs at {server.endpoint_url} (pid {server.pid}).", highlight=False)
    _say_hostile(server.hostile)
    done = server.faults()
    if done:
        given = ", ".join(f"{code} {count}" for code, count in sorted(done.items())
                          if code not in ("requests", "rewritten"))
        out.print(f"So far: {done.get('requests', 0)} requests; faults given: {given or 'none'}; "
                  f"{done.get('rewritten', 0)} answers shown as AWS would then (pending, initial...)", highlight=False)
    print(exports(server))


def _state_storage(config: Config, endpoint_url: str) -> list[str]:
    """Each environment's S3 state bucket and lock table, made in the sandbox (in the environment's
    account when it assumes a role); what was made, in words."""
    from infra.state.journal import unwrapped
    from infra.state.s3 import S3Backend  # boto3: imported by the commands that use it

    made: list[str] = []
    environments: list[str | None] = [*config.environments] or [None]
    for environment in environments:
        backend = unwrapped(Workspace(Path(options.config), AwsOptions(region=options.region,
                                                                       endpoint_url=endpoint_url),
                                      environment=environment).backend)
        if isinstance(backend, S3Backend):
            made += [f"{what} ({environment})" if environment else what for what in backend.make_storage()]
    return made

