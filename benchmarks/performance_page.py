"""docs/performance.md as plan_scale.py writes it: what was measured, the tables, the targets."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median

import fleet
from harness import load_summary
from report import (
    ApplyRow,
    PlanRow,
    RegionsRow,
    Target,
    apply_table,
    comparison_table,
    ms,
    phases_table,
    plan_table,
    regions_table,
    scaling_lines,
    targets_table,
)

OBSERVE = "observe (boto3 clients, AWS describes, local files)"
REGIONS_ABOUT = 1.5  # "about the time of one region": at most this many times as long


@dataclass
class Measured:
    info: dict[str, str]
    plans: list[PlanRow]
    regions: RegionsRow | None
    applies: list[ApplyRow]
    delays: list[float]
    apply_groups: int
    packer_seconds: float
    loads: list[float]
    minutes: float

    def row(self, groups: int) -> PlanRow | None:
        return next((r for r in self.plans if r.groups == groups), None)

    @property
    def delay(self) -> float:
        return self.delays[-1]


def _phases_columns(m: Measured) -> list[tuple[str, dict]]:
    names = {"cold": "cold", "warm": "warm", "warm, delayed": f"warm, {ms(m.delay)}"}
    return [(f"{row.groups:,} {names[which]}", row.phases[which]) for row in m.plans for which in names
            if which in row.phases]


def _busy(loads: list[float], cpus: int) -> str:
    """What the load averages say of the machine the figures were measured on."""
    if loads and median(loads) > cpus:
        return (f"on {cpus} CPUs: above {cpus}, other work was running and the wall times here are longer than on a "
                "quiet machine")
    return (f"on {cpus} CPUs: a quiet machine; the highest follows the benchmark's own applies, as the load average "
            "is a mean over the last minute")


def _where(found: dict | None) -> str:
    """The largest phases of one plan, as a phrase."""
    if not found:
        return ""
    phases = sorted(((s, name) for name, s in found["phases"].items() if name != "total"), reverse=True)
    top = ", ".join(f"{name} {seconds:.2f} s" for seconds, name in phases[:3])
    return (f"{top} (of {found['phases']['total']:.2f} s in phases.py, {found.get('cpu', 0):.2f} s of it CPU; "
            f"observing, {found['observe_cpu']:.2f} s of CPU in infra and {found.get('moto_cpu', 0):.2f} s of moto's "
            "answering, the rest waiting on AWS)")


def targets(m: Measured) -> list[Target]:
    big, thousand, spread = m.row(10000), m.row(1000), m.regions
    cold = big.cold.get(0.0) if big else None
    warm = big.warm.get(0.0) if big else None
    peaks = [r.peak_mb for r in (cold, warm) if r is not None]
    found = [
        Target("10,000 groups: cold plan, no delay", 5, "s", cold.seconds if cold else None,
               _where(big.phases.get("cold") if big else None)),
        Target("10,000 groups: warm plan, no delay", 10, "s", warm.seconds if warm else None,
               _where(big.phases.get("warm") if big else None)),
        Target("10,000 groups: peak memory of a plan, cold or warm", 500, "MB", max(peaks) if peaks else None),
        Target(f"1,000 groups: warm plan, {ms(m.delay)} per request", 3, "s",
               thousand.warm[m.delay].seconds if thousand and m.delay in thousand.warm else None,
               _where(thousand.phases.get("warm, delayed") if thousand else None)),
        Target("an apply that makes 1,000 groups (0 s packer, parallelism 50)", 30, "s",
               thousand.setup.seconds if thousand and thousand.setup else None, _apply_where(thousand)),
    ]
    one = thousand.phases.get("warm, delayed") if thousand else None
    if spread is not None and one is not None and m.delay in spread.observe:
        ratio = spread.observe[m.delay] / one["phases"][OBSERVE]
        found.append(Target(f"{spread.groups:,} groups over {spread.regions} regions observe in about the time of one "
                            f"({ms(m.delay)} per request): observe, times that of one region", REGIONS_ABOUT, "x",
                            ratio, "each region is observed after the one before (infra/providers/aws/common.py: "
                            "ObservedPerRegion.observe loops over the regions; images.py likewise); observing them at "
                            "once is the environments branch's change (issue 14), not merged here"))
    return found


def _apply_where(row: PlanRow | None) -> str:
    if row is None or row.setup is None:
        return ""
    run = row.setup
    return (f"{run.seconds:.0f} s of wall time for {run.cpu:.0f} s of CPU in infra and its packer clients and "
            f"{run.moto_cpu:.0f} s in moto, on {os.cpu_count()} cores; the state was written {row.state_writes} times, "
            f"up to {row.state_mb:.1f} MB each (the executor writes it whole before anything new starts); load "
            f"{run.load:.1f} at the start")


def apply_limits(m: Measured) -> list[str]:
    """What the applies that made each fleet spent, and what bounds them."""
    rows = [r for r in m.plans if r.setup is not None and r.groups >= 1000]
    if not rows:
        return []
    lines = ["## What limits an apply of many groups", "",
             "The applies that made the fleets for the warm plans (parallelism 50, builds of 0 s, no delay):", "",
             "| groups | actions | wall | CPU: infra and its packer clients | CPU: moto | state writes | last state | "
             "written in all, about |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        run = row.setup
        lines.append(f"| {row.groups:,} | {row.resources:,} | {run.seconds:.0f} s | {run.cpu:.0f} s | "
                     f"{run.moto_cpu:.0f} s | {row.state_writes:,} | {row.state_mb:.1f} MB | "
                     f"{row.state_writes * row.state_mb / 2 / 1000:.1f} GB |")
    return [*lines, "",
            "The executor writes the whole state, atomically and fsynced, each time actions finish and before",
            "anything new starts; the state grows with every resource made, so the bytes written grow with",
            "the square of the fleet (the last column: writes times half the last state): at 10,000 groups,",
            "tens of gigabytes, and the system CPU and disk time to write them, on the two cores moto also",
            "needs (it answers every request of the apply). Bounding that needs a decision on the state, not",
            "a faster write (each resource's JSON is already kept between writes): write it at most every few "
            "seconds while",
            "actions run (Terraform persists a remote state every 20 s during an apply, hashicorp/terraform#32680),",
            "or split it by group so that a write holds only what changed.", ""]


def headline(m: Measured) -> str:
    big, thousand = m.row(10000), m.row(1000)
    parts = []
    if big and 0.0 in big.cold:
        warm = f" and {big.warm[0.0].seconds:.1f} s warm" if 0.0 in big.warm else ""
        parts.append(f"`infra plan` of 10,000 groups takes {big.cold[0.0].seconds:.1f} s cold{warm} "
                     f"({max(r.peak_mb for r in (*big.cold.values(), *big.warm.values())):.0f} MB at most)")
    if thousand and m.delay in thousand.warm and m.delay in thousand.baseline:
        base = thousand.baseline[m.delay][0]
        warm = thousand.warm[m.delay]
        parts.append(f"with {ms(m.delay)} per AWS request, 1,000 groups plan warm in {warm.seconds:.1f} s with "
                     f"{warm.total_requests} requests, where a per-resource refresh of the same fleet makes "
                     f"{base.total_requests:,} requests and takes {base.seconds:.1f} s")
    return "; ".join(parts) + "." if parts else ""


def render(m: Measured, expected: Callable) -> str:
    mix = ", ".join(f"{count} {shape}" for shape, count in fleet.mix(100).items())
    info = m.info
    phases = phases_table(_phases_columns(m))
    found = targets(m)
    missed = [t for t in found if t.verdict != "met" and t.where]
    return "\n".join([
        "# Performance",
        "",
        "Regenerate this page with `make bench` (it runs `.venv/bin/python benchmarks/plan_scale.py` and",
        "rewrites this file). `benchmarks/plan_scale.py --quick` is a one-minute smoke run that writes nothing.",
        "",
        f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), {info['memory']} of memory, "
        f"Python {info['python']}, moto {info['moto']}; the whole run took {m.minutes:.0f} min. The machine's "
        f"load average at the start of each run: {load_summary(m.loads)} ({_busy(m.loads, int(info['nproc']))}).",
        "",
        "## Targets",
        "",
        *targets_table(found),
        "",
        *(["Where the time goes in what missed:", "",
           *[f"- {t.what}: {t.where}." for t in missed], ""] if missed else []),
        "## What is measured",
        "",
        "`infra plan --detailed-exitcode` and `infra apply` are run as the command line runs them (a new",
        "process each time, so Python start-up and imports count) in a generated ops repository, against",
        "a moto server on 127.0.0.1 (`infra.sandbox.launcher.MotoServer`). AWS requests are counted at the endpoint",
        "by a loopback proxy in front of moto (`tests/support/aws_proxy.py`), so every page and every",
        "retry counts. Every figure is measured twice: with the proxy passing requests on at once, and with",
        f"each request held {ms(m.delay)} first, as a real region's API takes tens of milliseconds to answer",
        "(requests in flight at once wait at the same time). Wall times up to 1,000 groups are the median of",
        "three runs, at 10,000 of one (the report prints how far apart the runs were). Peak memory is the plan",
        "process's maximum resident set size.",
        "",
        f"The generated nodes.json (`benchmarks/fleet.py`) mixes group shapes; per 100 groups: {mix}.",
        "Every group has a role; a packer group also a Packer template and an AMI; an ASG group also a",
        "dna file, a launch template and an autoscaling group of 0..1 nodes (desired 0, so moto launches",
        "no instances). All groups are in us-east-1, except in the four-region fleet.",
        "",
        "- **cold**: nothing exists (empty moto, no state, no files): every resource is to be made.",
        "- **warm**: everything exists, made by `infra apply --auto-approve --parallelism 50` with a packer",
        "  that builds in 0 s; the plan must say \"No changes\" (exit 0), and does. The last column is",
        "  the time that apply took (with no delay).",
        "",
        "## infra plan",
        "",
        *plan_table(m.plans, m.delays, expected),
        "",
        "The AWS requests are the pages of one tag-filtered describe per resource kind, never one per",
        "group: DescribeImages, DescribeLaunchTemplates, DescribeAutoScalingGroups and",
        "DescribeInstances (one-off instances; none here), and when launch templates exist their",
        "latest versions (one describe for all of them), the names of their security groups and the",
        "region's zones; a plan that makes or changes launch templates and AMIs also checks that their",
        "security groups and source AMI exist (one describe each, `infra/providers/aws/plan_checks.py`).",
        "Pages are as large as AWS allows (1,000 AMIs, 200 launch templates, 100 ASGs). The benchmark",
        "checks each count against that and marks any other **unexpected**. So the delay adds a few",
        "round trips to a plan, whatever the size of the fleet.",
        "",
        *scaling_lines(m.plans, 0.0),
        "",
        *(["Where the time of one plan goes (`benchmarks/phases.py`: the steps of `infra plan` in one fresh",
           "process, timed one by one):", "", *phases, ""] if phases else []),
        "## Beside a per-resource refresh",
        "",
        "Terraform, OpenTofu and the tools built like them refresh every resource of a plan on its own:",
        "one read per resource, by the id in the state, 10 at a time unless `-parallelism` says otherwise.",
        "Users of those tools report plans of 20-25 minutes at about 2,900 resources",
        "(hashicorp/terraform#18981) and 7,784 API requests for a refresh of about 3,100",
        "(integrations/terraform-provider-github#926). `benchmarks/per_resource.py` does that to the fleet",
        "infra made, in the same run, through the same proxy: one describe by id per AMI, launch template",
        "and autoscaling group, one read per local file, 10 at a time, in a process of its own with boto3.",
        "**It is a model of that approach, not Terraform**: it reads each resource once and plans nothing,",
        "and Terraform's AWS provider makes more requests for some kinds (a launch template's read also",
        "reads its latest version), so its figures are a lower bound for a per-resource refresh. infra's",
        "column is its whole warm plan (read, render, compare, report), not its observation alone.",
        "",
        *comparison_table(m.plans, m.delays),
        "",
        *(["## Four regions at once", "",
           f"The same {m.regions.groups:,} groups spread over {m.regions.regions} regions (blocks of 20 in turn, "
           "`fleet.nodes_json(groups, regions)`) beside",
           "all of them in one; `observe` is that phase of a warm plan alone (phases.py, the median of three).", "",
           *regions_table(m.row(m.regions.groups), m.regions, m.delays), ""] if m.regions else []),
        *apply_limits(m),
        f"## infra apply: {m.apply_groups} groups from nothing, with parallelism",
        "",
        "Every AMI build is a fake packer: `benchmarks/bin/packer`, first on PATH, a bash client of the",
        "build service the benchmark runs (`benchmarks/fake_packer.py`), which takes",
        f"{m.packer_seconds:g} s, then registers the AMI at the endpoint with the template's name and tags and",
        "answers packer's artifact line. \"Builds alone, ideally\" is the time the builds would take with no",
        "other work: waves of `parallelism` builds, at least two because some groups build from another",
        "group's AMI.",
        "",
        *apply_table(m.applies, m.packer_seconds),
        "",
        "Builds overlap up to the parallelism asked for. The rest of the wall time is the other actions",
        "(roles, templates, launch templates, ASGs), the requests each makes, and CPU: the last column is",
        "the CPU the apply used (infra, its packer clients, and moto) spread over every core, a floor for",
        "the wall time however many builds overlap; the fake builds' own CPU, in the benchmark's process,",
        "is not in it (about 2 ms each).",
        "",
        *performance_page_history(),
    ])


def performance_page_history() -> list[str]:
    """What was changed, and why, in the order it was done."""
    return [
        "## What was changed to get here",
        "",
        "Profiled with cProfile and py-spy (installed in the venv for that only), on 1,000, 5,000 and",
        "10,000 groups. Each fix keeps behaviour and output the same.",
        "",
        "First (on a 2-core Intel Xeon, before these changes: a 1,000-group plan took 2.2 s cold and 5.8 s",
        "warm, 3.6 s of it in moto's DescribeImages, and the apply that made those 1,000 groups 111 s):",
        "",
        "- The text report: when stdout is not a terminal, rich printed the plain text anyway, after",
        "  splitting it into a styled object per line. Without colour it is now printed as it is",
        "  (`infra/cli/engine_commands.py`).",
        "- References are looked for only in strings that start with `${` (`infra/reconciler/refs.py`);",
        "  local files are read with `os.path`, not `pathlib` (`infra/providers/files.py`).",
        "- Observation asks for AWS's largest pages (`launch_templates.py`, `autoscaling.py`).",
        "- The sandbox's moto (`infra/sandbox/server.py`) pages DescribeLaunchTemplates and",
        "  DescribeLaunchTemplateVersions (plain moto stops at 15), and looks tags up by resource id",
        "  (plain moto scans every tag for every resource: DescribeImages of 1,000 AMIs took 3.6 s).",
        "- The executor writes the state once for the actions that finish together, still before",
        "  anything new starts (`infra/reconciler/executor.py`); the previous state becomes the backup",
        "  by a hard link, not a copy (`infra/fsutil.py`).",
        "",
        "Then issue 17 (on this machine, before it: 1,000 groups planned in 1.5 s cold and 2.6 s warm, 5,000",
        "in 3.6 s cold, and the apply that made 1,000 groups took 54 s; figures below of a 10,000-group cold",
        "plan and a 1,000-group apply):",
        "",
        "- Garbage collection: a plan builds millions of small objects that live until it ends, and",
        "  Python's collector (thresholds 700, 10, 10) scanned them again and again: 1,500 collections,",
        "  9 of them full, 1.4 s of the 5.7 s of CPU. The command now collects the young generation every",
        "  100,000 allocations (`infra/cli/app.py`, `COLLECT_EVERY`); a plan runs one or two collections.",
        "- Apply progress lines: without colour they are written as they are (`infra/cli/common.py`).",
        "  rich parsed markup and took its console lock for each, from the scheduling thread and 50",
        "  workers at once: the thread that starts actions spent half its time printing.",
        "- The state text keeps each resource's JSON between writes (`infra/state/model.py`): a write",
        "  serialises only the resources that changed, byte for byte what pydantic wrote before.",
        "- The fake packer (benchmark only): a Python process per build cost about 50 ms of CPU, so the",
        "  950 builds of a 1,000-group apply took 47 s of CPU on the two cores infra and moto share: the",
        "  stand-in, not infra, set the pace. It is now a bash client of a build service in the",
        "  benchmark (about 1 ms per build); infra still starts a packer process per build.",
        "",
        "- Templates are read once per run (`infra/rendering.py`): jinja checked the template file on disk",
        "  again for each group.",
        "- AMIs are described 1,000 a page (`infra/providers/aws/images.py`): without MaxResults AWS",
        "  answers every AMI in one response, and 9,500 AMIs' 14 MB of XML and its parse held about",
        "  120 MB at once. The warm 10,000-group plan peaked at 689 MB before and 656 MB after; most of",
        "  what remains is the state (45 MB of JSON, about 125 MB as Python objects) and what was observed.",
        "",
        "Not changed, measured (10,000 groups, CPU): resolving references walks every attribute (0.3 s);",
        "jinja renders a Packer template per group (0.3 s, and 0.1 s to parse it back); the text report",
        "of a cold plan is 9.7 MB and takes about 1 s, each attribute masked and written whole before it",
        "is cut at 100 characters (writing only the first items saved 0.2 s, not worth its code); loading",
        "nodes.json takes 0.4 s, of which finding every group's services for `depends_on` 0.15 s even when",
        "no group depends on any; deepdiff runs only where attributes differ (`infra/reconciler/diff.py`).",
        "",
    ]
