"""Where one `infra plan` spends its time, phase by phase, in a fresh interpreter.

Run by plan_scale.py in an ops repository, with AWS_ENDPOINT_URL set; prints one JSON object:
seconds of wall time per phase, in the order `infra plan` runs them (engine.make_plan, then the
text report), and for the observation the CPU seconds this process spent in it (the rest of
its wall time is waiting for the AWS endpoint and the disk), and the CPU seconds of the whole.
It collects garbage as the `infra` command does (infra.cli.app.COLLECT_EVERY).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import time
from pathlib import Path


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    phases: dict[str, float] = {}
    started = time.perf_counter()
    import infra.cli  # noqa: F401  (what the `infra` command imports before it does anything)
    from infra import engine
    from infra.cli.app import COLLECT_EVERY, collector_paused
    from infra.reconciler import render
    from infra.reconciler.graph import desired_graph, with_recorded
    from infra.reconciler.plan import MadeAgainst
    from infra.reconciler.planner import plan
    from infra.reconciler.shared_values import share_recorded
    from infra.workspace import AwsOptions, Workspace

    phases["import infra"] = time.perf_counter() - started
    gc.set_threshold(*COLLECT_EVERY)
    paused = collector_paused()
    paused.__enter__()  # as `infra plan` runs, until the process ends
    workspace = Workspace(Path("nodes.json"), AwsOptions(endpoint_url=os.environ.get("AWS_ENDPOINT_URL")))

    def timed(name, work):
        began = time.perf_counter()
        result = work()
        phases[name] = time.perf_counter() - began
        return result

    config = timed("parse and validate nodes.json", lambda: workspace.config)
    state = timed("read state", workspace.backend.read)
    desired = timed("desired graph (render templates, hash)",
                    lambda: with_recorded(desired_graph(config, workspace.root), state, config.groups))
    timed("share what the state and the desired graph both hold", lambda: share_recorded(desired, state))
    cpu_before = cpu()
    observation = timed("observe (boto3 clients, AWS describes, local files)",
                        lambda: engine.observe(workspace, desired, state, engine.Selection()))
    observe_cpu = cpu() - cpu_before
    result = timed("plan (resolve, compare, diff)",
                   lambda: plan(desired, observation.found, state, unowned=observation.unowned,
                                made_against=MadeAgainst(lineage=state.lineage, serial=state.serial,
                                                         config_digest=config.digest)))
    text = timed("render the text report", lambda: render.plan_text(result, color=False))
    phases["total"] = time.perf_counter() - started
    json.dump({"phases": phases, "observe_cpu": observe_cpu, "cpu": cpu(), "changes": len(result.changes),
               "report_bytes": len(text)}, sys.stdout)


if __name__ == "__main__":
    main()
