"""docs/performance.md as plan_scale.py writes it: what was measured, the tables, the targets."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from statistics import median

import fleet
import performance_history
from harness import load_summary
from report import (
    OBSERVE,
    ApplyRow,
    PlanRow,
    RegionsRow,
    Target,
    apply_table,
    comparison_table,
    formats_table,
    ms,
    phases_table,
    plan_table,
    regions_table,
    replay_table,
    scaling_lines,
    targets_table,
)

OUTPUTS = ("json", "markdown")
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
    every_asg: bool = True
    speeds: tuple[float, float] | None = None  # harness.cpu_speed() at the start and at the end of the run

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
        return (f"on {cpus} CPUs: above {cpus}; the load average is a mean over the last minute, of the benchmark's "
                "own moto, proxy and runs before, and of any other work: the wall times may be longer than on an "
                "idle machine")
    return (f"on {cpus} CPUs: a quiet machine; the highest follows the benchmark's own applies, as the load average "
            "is a mean over the last minute")


def _speed(speeds: tuple[float, float]) -> list[str]:
    """The host's speed while the figures were measured: the same code is up to 1.8 times slower at some
    hours of the day than at others, so two pages compare at the ratio of these figures."""
    first, last = speeds
    return [f"The machine's speed: a fixed Python workload (`cpu_speed` in benchmarks/harness.py) took {first:.2f} s",
            f"of CPU at the start of the run and {last:.2f} s at its end. The host's speed varies over the day",
            "(the same code has measured 1.5 to 1.8 times slower at some hours than at others): to compare",
            "this page with another, scale its times by the ratio of the two pages' figures."]


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
    """Issue 27's targets: 10,000 groups, every one with an ASG."""
    big, thousand, spread = m.row(10000), m.row(1000), m.regions
    found = []
    cold_where = "the phases of the text plan: " + _where(big.phases.get("cold") if big else None)
    for output in ("text", *OUTPUTS):
        run = (big.cold.get(0.0) if output == "text" else big.formats.get(output)) if big else None
        found.append(Target(f"10,000 groups: cold plan, `--output {output}`", 4, "s", run.seconds if run else None,
                            cold_where + (f"; the {output} report was {run.output_bytes / 1e6:.0f} MB" if run else "")))
    colds = [r.peak_mb for r in ([*big.cold.values(), *big.formats.values()] if big else [])]
    found.append(Target("10,000 groups: peak memory of a cold plan, any output", 400, "MB",
                        max(colds) if colds else None, "the desired graph, the plan and its report held at once"))
    warm = big.replay.get(0.0) if big else None
    found.append(Target("10,000 groups: warm plan, infra's own CPU (AWS answered from memory)", 5, "s",
                        warm.cpu if warm else None, _where(big.phases.get("warm") if big else None)))
    warms = [r.peak_mb for r in ([*big.warm.values(), *big.replay.values()] if big else [])]
    found.append(Target("10,000 groups: peak memory of a warm plan", 500, "MB", max(warms) if warms else None,
                        "the state read, what was observed and the desired graph held at once"))
    found.append(Target("an apply that makes 10,000 groups (0 s packer, parallelism 50)", 120, "s",
                        big.setup.seconds if big and big.setup else None, _apply_where(big)))
    for row in (thousand, big):
        if row is not None and row.setup is not None:
            found.append(Target(f"{row.groups:,} groups: bytes that apply wrote, times its final state", 10, "x",
                                row.setup.written / (row.state_mb * 1e6), _apply_where(row)))
    for row, limit in ((thousand, 10), (big, 20)):
        if row is None:
            continue
        infra, base = row.replay.get(m.delay), row.replay_baseline.get(m.delay)
        found.append(Target(f"{row.groups:,} groups, warm, {ms(m.delay)} per request: a per-resource refresh's wall "
                            f"time, times infra's plan", limit, "x",
                            base[0].seconds / infra.seconds if infra and base else None,
                            _where(row.phases.get("warm, delayed")), at_least=True))
    if spread is not None and spread.ratio("replay", m.delay) is not None:
        found.append(Target(f"{spread.groups:,} groups over {spread.regions} regions observe in about the time of one "
                            f"({ms(m.delay)} per request, AWS answered from memory): observe, times that of one "
                            "region", REGIONS_ABOUT, "x", spread.ratio("replay", m.delay),
                            _regions_where(spread, m.delay)))
    return found


def _regions_where(row: RegionsRow, delay: float) -> str:
    """Where the observe of the spread fleet spends its time, beside the same fleet in one region."""
    spread, one = row.phases[row.regions, "replay", delay], row.phases[1, "replay", delay]
    return (f"AWS answered from memory, observing {row.regions} regions took {spread['phases'][OBSERVE]:.2f} s "
            f"({spread['observe_cpu']:.2f} s of it CPU in infra) where one took {one['phases'][OBSERVE]:.2f} s "
            f"({one['observe_cpu']:.2f} s of CPU). The regions are observed at once (infra/providers/aws/common.py, "
            "in_each_region), so the wall time is the slowest region's pages plus the CPU of them all: a boto3 "
            "client per service and region (about 17 ms of CPU each, most of it botocore building the client's "
            "class, a method per API operation, again for each region), and every region's pages parsed under "
            "one interpreter lock")


def regions_note(m: Measured) -> list[str]:
    """Under the targets: the four-region target's figure is the replay's; moto's, beside it."""
    spread = m.regions
    if spread is None or spread.ratio("replay", m.delay) is None:
        return []
    moto, answering = spread.ratio("moto", m.delay), spread.phases.get((spread.regions, "moto", m.delay))
    return [f"The {spread.regions}-region target is judged with AWS's answers served from memory (replay, infra's "
            f"own time): x{spread.ratio('replay', m.delay):.2f}"
            + (f". Against moto the same ratio is x{moto:.2f}: moto answers every region's describes on the same two "
               f"cores as infra ({answering['moto_cpu']:.1f} s of its CPU while {spread.regions} regions were "
               f"observed, {answering['observe_cpu']:.1f} s of infra's), so that figure is moto's more than infra's"
               if moto is not None and answering else "")
            + " (both in [Four regions at once](#four-regions-at-once))"
            + (f"; **the replays had no answer to {spread.misses} requests: not valid**" if spread.misses else "")
            + ".", ""]


def _apply_where(row: PlanRow | None) -> str:
    if row is None or row.setup is None:
        return ""
    run = row.setup
    return (f"{run.seconds:.0f} s of wall time for {run.cpu:.0f} s of CPU in infra and its packer clients and "
            f"{run.moto_cpu:.0f} s in moto, on {os.cpu_count()} cores; {row.state_writes:,} state records (journal "
            f"lines), a final state of {row.state_mb:.1f} MB, {run.written / 1e6:.0f} MB written in all (state, "
            f"journal and the ops repository's files); load {run.load:.1f} at the start")


def apply_limits(m: Measured) -> list[str]:
    """What the applies that made each fleet spent, and what they wrote."""
    rows = [r for r in m.plans if r.setup is not None and r.groups >= 100]
    if not rows:
        return []
    lines = ["## What limits an apply of many groups", "",
             "The applies that made the fleets for the warm plans (parallelism 50, builds of 0 s, no delay):", "",
             "| groups | actions | wall | CPU: infra and its packer clients | CPU: moto | state records | "
             "final state | written in all | written / final state |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        run = row.setup
        lines.append(f"| {row.groups:,} | {row.resources:,} | {run.seconds:.0f} s | {run.cpu:.0f} s | "
                     f"{run.moto_cpu:.0f} s | {row.state_writes:,} | {row.state_mb:.1f} MB | "
                     f"{run.written / 1e6:,.0f} MB | x{run.written / (row.state_mb * 1e6):.1f} |")
    return [*lines, "",
            "\"Written in all\" is the kernel's count of what the apply (and its packer clients) wrote to the file",
            "system (`ru_oublock`, benchmarks/launch.py): the state, its journal, and the ops repository's role,",
            "template and dna files, each at least a 4 KiB page; an fsynced append to the journal is a page too.",
            "The executor appends each batch of finished actions to the state's journal before anything new",
            "starts, flushed to disk within a second (`infra/state/journal.py`; an fsync per batch kept the",
            "10,000-group apply waiting a third of its time), and writes the state whole only when the journal has",
            "grown as large as the state was when last written, and at the end: so what it writes grows with the",
            "fleet. Before (issue 27), it wrote the whole state after every batch: 4.9 GB for a 3.6 MB state at",
            "1,000 groups, about 100 GB at 10,000. What remains is CPU: infra's (boto3 requests, packer",
            "processes, threads) and moto's, which answers every request of the apply on the same two cores.", ""]


def headline(m: Measured) -> str:
    big, thousand = m.row(10000), m.row(1000)
    parts = []
    if big and 0.0 in big.cold:
        formats = ", ".join(f"{output} {run.seconds:.1f} s" for output, run in
                            (("text", big.cold[0.0]), *big.formats.items()))
        parts.append(f"a cold `infra plan` of 10,000 groups takes {formats}")
    if big and 0.0 in big.replay:
        peak = max(r.peak_mb for r in big.replay.values())
        parts.append(f"warm, {big.replay[0.0].cpu:.1f} s of infra's CPU ({peak:.0f} MB)")
    if thousand and m.delay in thousand.replay and m.delay in thousand.replay_baseline:
        base, warm = thousand.replay_baseline[m.delay][0], thousand.replay[m.delay]
        parts.append(f"with {ms(m.delay)} per AWS request, 1,000 groups plan warm in {warm.seconds:.1f} s with "
                     f"{warm.total_requests} requests, where a per-resource refresh of the same fleet makes "
                     f"{base.total_requests:,} requests and takes {base.seconds:.1f} s")
    return "; ".join(parts) + "." if parts else ""


def render(m: Measured, expected: Callable) -> str:
    mix = ", ".join(f"{count} {shape}" for shape, count in fleet.mix(100, every_asg=m.every_asg).items())
    info = m.info
    phases = phases_table(_phases_columns(m))
    found = targets(m)
    missed = [t for t in found if t.verdict == "**missed**" and t.where]
    return "\n".join([
        "# Performance",
        "",
        "Regenerate this page with `make bench` (it runs `.venv/bin/python benchmarks/plan_scale.py` and",
        "rewrites this file). `benchmarks/plan_scale.py --quick` is a one-minute smoke run that writes nothing.",
        "",
        f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), {info['memory']} of memory, "
        f"Python {info['python']}, moto {info['moto']}; the whole run took {m.minutes:.0f} min. The machine's "
        f"load average at the start of each run: {load_summary(m.loads)} ({_busy(m.loads, int(info['nproc']))}).",
        *([""] + _speed(m.speeds) if m.speeds else []),
        "",
        "## Targets",
        "",
        *targets_table(found),
        "",
        *regions_note(m),
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
        "three runs, at 10,000 of one on moto, but of three for the cold plans in each output format (the",
        "cold targets' figures), and of three on the replay (the warm targets'; the console printed how far",
        "apart the runs were). Peak memory is the",
        "process's maximum resident set size; CPU is the process's and its children's, user and system.",
        "",
        "moto answers a warm plan's describes with seconds of its own CPU, on the same two cores: a warm",
        "figure taken against it is as much moto as infra. So each warm plan, and the per-resource refresh",
        "beside it, is also measured against moto's answers recorded during the run and served from memory",
        "(`benchmarks/replay.py`: a loopback http.server that finds each answer by the request's action,",
        "region and parameters; the run checks that it missed none), with and without the delay:",
        "**replay** in the tables. That figure is infra's own.",
        "",
        f"The generated nodes.json (`benchmarks/fleet.py`) has, per 100 groups: {mix}: each group has a role, a",
        "Packer template and an AMI (built by a fake packer in 0 s), a dna file, a launch template and an",
        "autoscaling group of 0..1 nodes (desired 0, so moto launches no instances), as the seed's 12_04-bee:",
        "6 resources a group, the shape with the largest plans. All groups are in us-east-1, except in the",
        "four-region fleet. (`plan_scale.py --mixed` measures the fleet of mixed shapes of earlier runs.)",
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
        "checks each count against that and marks any other **unexpected**. Beyond the pages, each request",
        "has a reason: a second DescribeInstances and DescribeKeyPairs look for what a killed packer build",
        "left (its instance and key pair); cold, a DescribeAutoScalingGroups and a DescribeLaunchTemplates",
        "look for look-alikes, an ASG or a launch template named like one the plan would make but made",
        "without infra (so untagged, unseen by the tag-filtered describes), which the plan offers to",
        "import (by name when a call or two hold the names, else one scan of the region); warm,",
        "DescribeLaunchTemplateVersions reads the templates' latest versions, DescribeSecurityGroups the",
        "names of their security groups, DescribeAvailabilityZones the region's zones. So the delay adds",
        "a few round trips to a plan, whatever the size of the fleet.",
        "",
        "Cold plans in each output format (no delay):",
        "",
        *formats_table(m.plans),
        "",
        "Warm plans on moto and on its recorded answers (replay): infra's own CPU is the figure to read.",
        "",
        *replay_table(m.plans, m.delays),
        "",
        *scaling_lines(m.plans, 0.0),
        "",
        *(["Where the time of one plan goes (`benchmarks/phases.py`: the steps of `infra plan` in one fresh",
           "process, timed one by one; warm, against the replay):", "", *phases, ""] if phases else []),
        "## Beside a per-resource refresh",
        "",
        "Terraform, OpenTofu and the tools built like them refresh every resource of a plan on its own:",
        "one read per resource, by the id in the state, 10 at a time unless `-parallelism` says otherwise.",
        "Users of those tools report plans of 20-25 minutes at about 2,900 resources",
        "(hashicorp/terraform#18981) and 7,784 API requests for a refresh of about 3,100",
        "(integrations/terraform-provider-github#926). `benchmarks/per_resource.py` does that to the fleet",
        "infra made, in the same run, against the same endpoint: one describe by id per AMI, launch template",
        "and autoscaling group, one read per local file, 10 at a time, in a process of its own with boto3.",
        "**It is a model of that approach, not Terraform**: it reads each resource once and plans nothing,",
        "and Terraform's AWS provider makes more requests for some kinds (a launch template's read also",
        "reads its latest version), so its figures are a lower bound for a per-resource refresh. infra's",
        "column is its whole warm plan (read, render, compare, report), not its observation alone. On moto,",
        f"at 10,000 groups only without delay (with {ms(m.delay)}, its 30,000 requests take minutes of moto's CPU);",
        "the targets compare the replay's figures, where neither pays for moto. The replay is one Python",
        "process answering a few hundred requests a second, so without delay it, not the model, bounds",
        "the per-resource refresh's wall time at 10,000 groups; with the delay, 10 requests in flight at",
        f"{ms(m.delay)} each bound it at 30,000 / 10 x {m.delay:g} s = {30000 / 10 * m.delay:.0f} s whatever "
        "answers them.",
        "",
        *comparison_table(m.plans, m.delays),
        "",
        *(["## Four regions at once", "",
           f"The same {m.regions.groups:,} groups in one region and spread over {m.regions.regions} (blocks of 20 in "
           "turn, `fleet.nodes_json(groups, regions)`), each made, then planned warm: on moto and on moto's",
           "answers recorded during the run and served from memory (**replay**, as the warm plans above). moto",
           "answers every region's describes on the same two cores as infra, so its figure is moto's as much as",
           "infra's; the target is judged on the replay's. `observe` is that phase of a warm plan alone",
           "(phases.py): its wall time, the CPU infra spent in it, and moto's meanwhile. On moto, each figure is",
           "the median of three runs, one fleet after the other; on the replay, of five, the two fleets in turn",
           "run by run, so that a ratio of the two is not a change in the machine's load.", "",
           *regions_table(m.regions, m.delays), ""] if m.regions else []),
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
        *performance_history.lines(),
    ])


def readme_speed(m: Measured) -> str:
    """The README's paragraph of figures (its section `plan-scale`), from the same measurements."""
    info, found = m.info, targets(m)
    largest = max((r for r in m.plans if 0.0 in r.cold), key=lambda r: r.groups, default=None)
    if largest is None:
        return ""
    shape = "every one with an autoscaling group" if m.every_asg else "of mixed shapes"
    colds = [("text", largest.cold[0.0]), *largest.formats.items()]
    load = median(m.loads)
    busy = (f"load average {load:.1f} at the median run, the benchmark's own servers included, so wall times may "
            f"be longer than on an idle machine"
            if load > int(info["nproc"]) else f"quiet: load average {load:.1f} at the median run")
    said = [f"On a {info['nproc']}-core {info['cpu']} machine ({info['date'][:10]}, {busy}), a cold "
            f"`infra plan` of {largest.groups:,} node groups {shape} ({largest.resources:,} resources) takes "
            + ", ".join(f"{run.seconds:.1f} s as {output}" for output, run in colds)
            + f", at most {max(run.peak_mb for _, run in colds):.0f} MB."]
    if 0.0 in largest.replay:
        replayed, moto = largest.replay[0.0], largest.warm.get(0.0)
        said.append(f"Warm (everything exists) it takes {replayed.cpu:.1f} s of infra's own CPU "
                    f"({replayed.peak_mb:.0f} MB) with AWS's answers served from memory"
                    + (f", {moto.seconds:.1f} s against a local moto server" if moto else "")
                    + f": one paginated describe per resource kind, never one per group "
                      f"({replayed.total_requests} requests).")
    compared = [r for r in (m.row(1000), m.row(10000))
                if r is not None and m.delay in r.replay and m.delay in r.replay_baseline]
    for index, row in enumerate(compared):
        infra, base = row.replay[m.delay], row.replay_baseline[m.delay][0]
        ratio = base.seconds / infra.seconds
        figures = (f"{row.groups:,} groups plan warm in {infra.seconds:.1f} s, where a per-resource refresh makes "
                   f"{base.total_requests:,} requests and takes {base.seconds:.1f} s (x{ratio:.1f})")
        said.append(f"With {ms(m.delay)} added to every AWS request (a model of a per-resource refresh: one "
                    f"describe per resource by id, 10 at a time, as Terraform refreshes; a model, not Terraform), "
                    f"{figures}." if index == 0 else f"At {figures}.")
    made = [r for r in m.plans if r.setup is not None and r.groups >= 1000]
    if made:
        said.append("An apply that makes " + ", and ".join(
            f"{r.groups:,} groups takes {r.setup.seconds:.0f} s and writes {r.setup.written / 1e6:,.0f} MB in all "
            f"for a final state of {r.state_mb:.0f} MB" for r in made) + " (each batch of finished actions is "
            "appended to the state's journal; the state is written whole now and then).")
    met = sum(t.verdict == "met" for t in found)
    said.append(f"The targets ({met} of {len(found)} met), and where the time goes, are in "
                "[docs/performance.md](docs/performance.md) (`make bench` regenerates it and this paragraph).")
    return textwrap.fill(" ".join(said), width=100) + "\n"
