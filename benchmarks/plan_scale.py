"""Benchmarks: `infra plan` and `infra apply` at scale, against a local moto server, with and
without the latency of a real region's API, beside a model of a per-resource refresh.

    .venv/bin/python benchmarks/plan_scale.py            # everything (about 20 minutes on 2 cores);
                                                         # writes docs/performance.md
    .venv/bin/python benchmarks/plan_scale.py --quick    # 10 and 100 groups, a small apply; writes nothing
    .venv/bin/python benchmarks/plan_scale.py --only-regions  # one region beside four (10 min); writes nothing

For each size (10, 100, 1,000 and 10,000 generated groups, see fleet.py) it runs the real CLI,
`infra plan --detailed-exitcode`, as a subprocess and measures its wall time, its peak memory
(the child's maximum resident set size) and the AWS requests it made, counted at the endpoint by
a loopback proxy in front of moto (tests/support/aws_proxy.py), never inside infra; each of them
once as the proxy passes requests on at once, and once with every request held `--delay`
(50 ms) first, as a real region's API takes that long to answer:
- cold: nothing exists yet (an empty moto, no state): everything is to be made;
- warm: everything exists (made by `infra apply --auto-approve --parallelism 50` with a packer
  that builds in 0 s): the plan must say "no changes". Then per_resource.py refreshes the same
  fleet resource by resource, 10 at a time, through the same proxy: the baseline.
It checks the requests against the pages of one tag-filtered describe per resource kind, and
times the phases of one plan in-process (phases.py) at the larger sizes. It plans 1,000 groups
spread over four regions beside the same in one, warm, on moto and on its recorded answers
(`--only-regions`: that alone, writing nothing). Then `infra apply` of 100 groups from nothing
with --parallelism 1, 10 and 50, with a fake packer (fake_packer.py) that takes a fixed time per
build, to show the builds overlap. Last, the scale targets of issue 17, met or not.

Everything listens on 127.0.0.1 only; every child process has a time limit, and the run stops by
itself. Figures are printed as they come, then the whole report, which is also written to
docs/performance.md.
"""

from __future__ import annotations

import argparse
import math
import pickle
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import fleet  # noqa: E402
import performance_page  # noqa: E402
from doc_sections import owned_sections, replace_section  # noqa: E402
from harness import Bench, Run, cpu_speed, machine, median_run  # noqa: E402
from replay import Replay  # noqa: E402
from report import OBSERVE, ApplyRow, PlanRow, RegionsRow, ms  # noqa: E402

SIZES = (10, 100, 1000, 10000)
APPLY_GROUPS = 100
PARALLELISMS = (1, 10, 50)
PACKER_SECONDS = 1.0
DELAY = 0.05  # seconds added to every AWS request: the latency of a real region's API
PHASES_FROM = 1000  # time the phases of a plan at this many groups and more
REGIONS_GROUPS, REGIONS = 1000, 4  # the fleet spread over regions, planned beside the same in one region
# Runs of a warm plan on the replay, at every size (the median kept): the figures the warm targets
# judge. One run at 10,000 groups moved by 20% with the host's load (12.6 s of CPU back to back, 15.0 s on a page).
WARM_REPLAYED = 3
# Runs of a cold plan in each output format, at every size (the median kept): the cold targets'
# figures. One run at 10,000 groups: JSON 4.12 s on a page; the same code, three runs half an hour later, 3.50-3.53 s.
COLD_FORMATS_RUN = 3
REGIONS_REPLAYED = 5  # runs of each fleet on the replay, in turn (the median kept): the target's figure
# Warm plans need everything made first, by `infra apply`; 10,000 groups take a few minutes.
WARM_LIMIT = 10000
DOCS = ROOT / "docs" / "performance.md"
README = ROOT / "README.md"
COMMAND = "make bench"
# The largest page infra asks for (and AWS gives) per describe.
PAGE = {"DescribeLaunchTemplates": 200, "DescribeLaunchTemplateVersions": 200, "DescribeAutoScalingGroups": 100,
        "DescribeImages": 1000}
LOOK_ALIKES = {"asg": 100, "launch_template": 200}  # names per describe (infra/providers/aws/adoption.py)
BY_NAME_CALLS = 2  # more calls by name than this: one scan of the region instead (adoption.py)
OUTPUTS = ("json", "markdown")  # cold plans in these too (text is the cold plan of every size)
MOTO_BASELINE_LIMIT = 1000  # the per-resource refresh on moto with the delay, up to this many groups (slow above)


def repeats_for(groups: int, repeats: int) -> int:
    """Runs per case: `repeats` up to 1,000 groups, fewer above (a 10,000-group case takes seconds to minutes)."""
    return repeats if groups <= 1000 else max(1, repeats // 2)


def expected_requests(groups: int, warm: bool, every_asg: bool = True) -> Counter:
    """The pages of one tag-filtered describe per resource kind that a plan of `groups` needs.

    Every kind is scanned (orphans of a kind no group uses any more are found too). Cold, nothing
    is found, so each describe is one empty page and nothing more is asked. Warm, the launch
    templates' latest versions are one more describe (of every template at once), and the names of
    their security groups and the region's zones (for ASGs over every zone) one each. The benchmark
    makes no one-off instances, so DescribeInstances is one empty page; a second one, and
    DescribeKeyPairs, look for what killed packer builds left (none here). Cold, the ASGs and launch
    templates to make are also looked for, for look-alikes made without infra that could be imported
    (adoption.py): by name (100 ASG names, 200 template names a call) when that takes a call or two,
    else in one scan of the region's ASGs and templates, which is one empty page here; and the
    security groups and source AMI that what the plan makes uses are checked to exist (one describe
    each: plan_checks.py)."""
    shapes = fleet.mix(groups, every_asg)
    asgs = shapes.get("packer+asg", 0) + shapes.get("asg, no packer", 0)  # as many launch templates
    pages = Counter({"DescribeImages": 1, "DescribeInstances": 2, "DescribeLaunchTemplates": 1,
                     "DescribeAutoScalingGroups": 1, "DescribeKeyPairs": 1})
    if asgs and not warm:  # what the plan would make: importable look-alikes (none here)
        by_name = {"asg": math.ceil(asgs / LOOK_ALIKES["asg"]),
                   "launch_template": math.ceil(2 * asgs / LOOK_ALIKES["launch_template"])}
        pages.update({"DescribeAutoScalingGroups": by_name["asg"] if by_name["asg"] <= BY_NAME_CALLS else 1,
                      "DescribeLaunchTemplates": by_name["launch_template"]
                      if by_name["launch_template"] <= BY_NAME_CALLS else 1})
    amis = groups - shapes.get("asg, no packer", 0)  # one per packer group
    if groups and not warm:  # what the plan makes uses the fleet's security groups and source AMI
        pages.update({"DescribeSecurityGroups": 1, "DescribeImages": 1})
    if amis and warm:
        pages["DescribeImages"] += math.ceil(amis / PAGE["DescribeImages"]) - 1
    if asgs and warm:
        pages.update({
            "DescribeLaunchTemplates": math.ceil(asgs / PAGE["DescribeLaunchTemplates"]) - 1,
            "DescribeLaunchTemplateVersions": math.ceil(asgs / PAGE["DescribeLaunchTemplateVersions"]),
            "DescribeAutoScalingGroups": math.ceil(asgs / PAGE["DescribeAutoScalingGroups"]) - 1,
            "DescribeSecurityGroups": 1, "DescribeAvailabilityZones": 1})
    return +pages


def expected(bench: Bench, groups: int, warm: bool) -> Counter:
    return expected_requests(groups, warm, bench.every_asg)


# -- the measurements -------------------------------------------------------------------------------


def _describe(groups: int, which: str, run: Run, expected: Counter | None = None) -> None:
    verdict = "" if expected is None else " (as expected)" if run.requests == expected else \
        f" (EXPECTED {dict(sorted(expected.items()))})"
    print(f"  {groups:>6,} groups {which}: {run.seconds:6.2f} s (runs {run.spread:.2f} s apart), "
          f"{run.peak_mb:4.0f} MB, {run.total_requests} AWS requests {dict(sorted(run.requests.items()))}"
          f"{verdict}; load {run.load:.1f}",
          flush=True)


def measure_plans(bench: Bench, sizes: list[int], repeats: int, warm_limit: int, delays: list[float],
                  phases_from: int = PHASES_FROM, moto_baseline_limit: int = MOTO_BASELINE_LIMIT) -> list[PlanRow]:
    rows = []
    for groups in sizes:
        bench.reset()
        root = bench.repository(f"plan-{groups}", groups)
        times = repeats_for(groups, repeats)
        row = PlanRow(groups=groups, resources=fleet.resources(groups, bench.every_asg))
        for delay in delays:
            row.cold[delay] = bench.plan(root, expect=2, repeats=times, delay=delay)
            _describe(groups, f"cold, {ms(delay)} per request", row.cold[delay], expected(bench, groups, warm=False))
        for output in OUTPUTS:
            row.formats[output] = bench.plan(root, expect=2, repeats=max(times, COLD_FORMATS_RUN), output=output)
            _describe(groups, f"cold, --output {output}", row.formats[output], expected(bench, groups, warm=False))
        if groups >= phases_from:
            row.phases["cold"] = bench.phases(root, repeats=times)
        if groups <= warm_limit:
            make_everything(bench, root, row)
            measure_warm(bench, root, row, times, delays, phases_from, moto_baseline_limit)
        else:
            row.note = "not measured: see --warm-limit"
        rows.append(row)
    return rows


def measure_warm(bench: Bench, root: Path, row: PlanRow, times: int, delays: list[float], phases_from: int,
                 moto_baseline_limit: int) -> None:
    """The warm plan and the per-resource refresh: on moto (through a recorder, so that their answers are
    kept), then on those answers served from memory (replay.py), each without and with the delay."""
    groups, once = row.groups, 1 if row.groups >= 1000 else times  # a refresh of 1,000 groups takes a while
    recorder = bench.recorder()
    try:
        row.warm[0.0] = bench.plan(root, expect=0, repeats=times, endpoint=recorder)
        row.baseline[0.0] = bench.baseline(root, repeats=once, endpoint=recorder)
    finally:
        recorder.close()
    replay = Replay(recorder.answers)
    try:
        for delay in delays:
            if delay:
                row.warm[delay] = bench.plan(root, expect=0, repeats=times, delay=delay)
                if groups <= moto_baseline_limit:
                    row.baseline[delay] = bench.baseline(root, repeats=once, delay=delay)
            row.replay[delay] = bench.plan(root, expect=0, repeats=max(times, WARM_REPLAYED), delay=delay,
                                           endpoint=replay)
            row.replay_baseline[delay] = bench.baseline(root, repeats=once, delay=delay, endpoint=replay)
            for which, runs in (("warm, moto", row.warm), ("per-resource refresh, moto", row.baseline),
                                ("warm, replay", row.replay), ("per-resource refresh, replay", row.replay_baseline)):
                if delay in runs:
                    run = runs[delay][0] if isinstance(runs[delay], tuple) else runs[delay]
                    _describe(groups, f"{which}, {ms(delay)} per request", run,
                              expected(bench, groups, warm=True) if which.startswith("warm") else None)
        if groups >= phases_from:
            row.phases["warm"] = bench.phases(root, repeats=times, endpoint=replay)
            row.phases["warm, delayed"] = bench.phases(root, repeats=times, delay=delays[-1], endpoint=replay)
        row.misses = sum(replay.misses.values())
        if row.misses:
            print(f"  REPLAY MISSES (figures not valid): {dict(replay.misses)}", flush=True)
    finally:
        replay.close()


def make_everything(bench: Bench, root: Path, row: PlanRow) -> None:
    """Apply from nothing, as the warm plans need (parallelism 50, builds of 0 s); what it wrote."""
    row.setup = bench.apply(root, 50, 0.0)
    state = (root / ".infra" / "state.json").read_text()
    row.state_writes = int(re.search(r'"serial": (\d+)', state[:2000])[1])  # the head alone: 10,000 groups are 45 MB
    row.state_mb = len(state) / 1e6
    print(f"  {row.groups:>6,} groups: made everything (apply, parallelism 50, 0 s builds) in "
          f"{row.setup.seconds:.1f} s, {row.state_writes} state records, a final state of {row.state_mb:.2f} MB, "
          f"{row.setup.written / 1e6:.0f} MB written in all; CPU: infra and packer clients "
          f"{row.setup.cpu:.1f} s, moto {row.setup.moto_cpu:.1f} s; load {row.setup.load:.1f}", flush=True)


def measure_regions(bench: Bench, groups: int, delays: list[float], repeats: int) -> RegionsRow:
    """The same fleet in one region and spread over four: each made, then planned warm and the observe
    phase of a plan timed alone (phases.py), on moto (through a recorder, so that its answers are kept)
    and on those answers served from memory (replay.py), each without and with the delay. moto answers
    four regions' describes on the same cores as infra; the replay's figure is infra's own. On the
    replay both fleets are measured in turn, run by run, so that both see the same load (the machine is
    shared: measured minutes apart, the ratio of two medians of three moved from x0.3 to x1.3)."""
    row = RegionsRow(groups=groups, regions=REGIONS)
    roots: dict[int, Path] = {}
    replays: dict[int, Replay] = {}
    try:
        for regions in (1, REGIONS):
            bench.reset()
            roots[regions] = root = bench.repository(f"regions-{regions}", groups, regions)
            row.setup[regions] = bench.apply(root, 50, 0.0)
            replays[regions] = Replay(_regions_on_moto(bench, row, regions, root, delays, repeats))
        for delay in delays:
            plans: dict[int, list[Run]] = {regions: [] for regions in roots}
            phases: dict[int, list[dict]] = {regions: [] for regions in roots}
            for _ in range(max(repeats, REGIONS_REPLAYED)):
                for regions, root in roots.items():
                    plans[regions].append(bench.plan(root, expect=0, repeats=1, delay=delay,
                                                     endpoint=replays[regions]))
                    phases[regions].append(bench.phases(root, repeats=1, delay=delay, endpoint=replays[regions]))
            for regions in roots:
                row.warm[regions, "replay", delay] = median_run(plans[regions])
                row.phases[regions, "replay", delay] = sorted(phases[regions], key=lambda found: found["phases"][
                    OBSERVE])[len(phases[regions]) // 2]
                _describe_regions(row, regions, "replay", delay)
        row.misses = sum(sum(replay.misses.values()) for replay in replays.values())
        if row.misses:
            print(f"  REPLAY MISSES (figures not valid): {[dict(r.misses) for r in replays.values()]}", flush=True)
    finally:
        for replay in replays.values():
            replay.close()
    for on in ("replay", "moto"):
        print(f"  observe over {REGIONS} regions, times one region's, on {on}: "
              + ", ".join(f"x{row.ratio(on, delay):.2f} with {ms(delay)}" for delay in delays), flush=True)
    return row


def _regions_on_moto(bench: Bench, row: RegionsRow, regions: int, root: Path, delays: list[float],
                     repeats: int) -> dict:
    """One fleet's warm plan and observe on moto (the fleet just made), without the delay through a
    recorder; what it recorded."""
    recorder = bench.recorder()
    try:
        for delay in delays:  # the recorder adds no delay: with one, the counting proxy in front of moto
            endpoint = None if delay else recorder
            row.warm[regions, "moto", delay] = bench.plan(root, expect=0, repeats=repeats, delay=delay,
                                                          endpoint=endpoint)
            row.phases[regions, "moto", delay] = bench.phases(root, repeats=repeats, delay=delay, endpoint=endpoint)
            _describe_regions(row, regions, "moto", delay)
    finally:
        recorder.close()
    return recorder.answers


def _describe_regions(row: RegionsRow, regions: int, on: str, delay: float) -> None:
    found, where = row.phases[regions, on, delay], f"in {regions} region{'s' if regions > 1 else ''}, warm"
    _describe(row.groups, f"{where}, {on}, {ms(delay)} per request", row.warm[regions, on, delay])
    print(f"  {row.groups:>6,} groups {where}, {on}, {ms(delay)} per request: observe {found['phases'][OBSERVE]:.2f} s"
          f" ({found['observe_cpu']:.2f} s CPU in infra, {found['moto_cpu']:.2f} s moto's)", flush=True)


def measure_applies(bench: Bench, groups: int, parallelisms: list[int], packer_seconds: float,
                    delays: list[float]) -> list[ApplyRow]:
    rows = []
    chained = fleet.mix(groups).get("packer from @group", 0) > 0
    for delay in delays:
        for parallelism in parallelisms:
            bench.reset()
            root = bench.repository(f"apply-{groups}-p{parallelism}", groups)
            run = bench.apply(root, parallelism, packer_seconds, delay=delay)
            spans = bench.packer.reset()
            waves = max(math.ceil(len(spans) / parallelism), 2 if chained else 1)
            row = ApplyRow(parallelism=parallelism, delay=delay, seconds=run.seconds, builds=len(spans),
                           most_at_once=most_at_once(spans), ideal=waves * packer_seconds, cpu=run.cpu,
                           moto_cpu=run.moto_cpu)
            rows.append(row)
            print(f"  apply {groups} groups, parallelism {parallelism:>2}, {ms(delay)} per request: "
                  f"{run.seconds:6.1f} s, {row.builds} builds of {packer_seconds:g} s, at most {row.most_at_once} "
                  f"at once; load {run.load:.1f}",
                  flush=True)
    return rows


def most_at_once(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    current = best = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


def measure(args: argparse.Namespace, sizes: list[int], parallelisms: list[int],
            delays: list[float]) -> performance_page.Measured:
    info = machine()
    print(f"infra benchmarks on {info['nproc']} CPU(s) ({info['cpu']}), {info['memory']}, {info['date']}", flush=True)
    first_speed = cpu_speed()
    print(f"the machine's speed: a fixed Python workload took {first_speed:.2f} s of CPU", flush=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="infra-bench-") as scratch:
        bench = Bench(Path(scratch), every_asg=not args.mixed)
        try:
            if sizes:
                print("infra plan (cold: nothing exists; warm: everything exists) and the per-resource refresh:",
                      flush=True)
            plans = measure_plans(bench, sizes, args.repeats, args.warm_limit, delays, args.phases_from,
                                  args.moto_baseline_limit)
            if not args.no_regions:
                print(f"{args.regions_groups:,} groups in one region and over {REGIONS}, warm:", flush=True)
            regions = None if args.no_regions else measure_regions(bench, args.regions_groups, delays, args.repeats)
            applies = []
            if parallelisms:
                print(f"infra apply of {args.apply_groups} groups from nothing, packer builds of "
                      f"{args.packer_seconds:g} s:", flush=True)
                applies = measure_applies(bench, args.apply_groups, parallelisms, args.packer_seconds,
                                          [0.0] if args.quick else delays)
        finally:
            bench.close()
    return performance_page.Measured(info=info, plans=plans, regions=regions, applies=applies, delays=delays,
                                     apply_groups=args.apply_groups, packer_seconds=args.packer_seconds,
                                     loads=bench.loads, minutes=(time.monotonic() - started) / 60,
                                     every_asg=not args.mixed, speeds=(first_speed, cpu_speed()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="group counts for the plan runs")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs per case up to 1,000 groups, the median kept (half as many above)")
    parser.add_argument("--warm-limit", type=int, default=WARM_LIMIT, help="measure warm plans up to this many groups")
    parser.add_argument("--delay", type=float, default=DELAY, help="seconds added to each AWS request (0: none)")
    parser.add_argument("--apply-groups", type=int, default=APPLY_GROUPS)
    parser.add_argument("--parallelism", default=",".join(map(str, PARALLELISMS)))
    parser.add_argument("--packer-seconds", type=float, default=PACKER_SECONDS)
    parser.add_argument("--regions-groups", type=int, default=REGIONS_GROUPS,
                        help=f"groups of the fleet in one region and spread over {REGIONS}")
    parser.add_argument("--no-regions", action="store_true", help=f"skip the {REGIONS}-region fleet")
    parser.add_argument("--only-regions", action="store_true",
                        help=f"only the fleet in one region and over {REGIONS} (about 10 minutes); writes nothing")
    parser.add_argument("--phases-from", type=int, default=PHASES_FROM, help="time the phases of plans this large")
    parser.add_argument("--moto-baseline-limit", type=int, default=MOTO_BASELINE_LIMIT,
                        help="the per-resource refresh on moto with the delay up to this many groups")
    parser.add_argument("--mixed", action="store_true",
                        help="the fleet of mixed shapes (one group in five with an ASG), not every group with an ASG")
    parser.add_argument("--quick", action="store_true",
                        help="10 and 100 groups, a 20-group apply with no delay; writes nothing")
    parser.add_argument("--out", type=Path, default=DOCS, help="where to write the report (Markdown)")
    parser.add_argument("--readme", type=Path, default=README, help="whose section plan-scale to rewrite")
    parser.add_argument("--keep", type=Path, help="also keep the measurements in this file (pickle)")
    parser.add_argument("--from", dest="kept", type=Path,
                        help="measure nothing: write the report from measurements kept with --keep")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    parallelisms = [int(p) for p in args.parallelism.split(",") if p]
    if args.quick:
        sizes, parallelisms, args.no_write, args.apply_groups, args.no_regions = [10, 100], [1, 10], True, 20, True
    if args.only_regions:
        sizes, parallelisms, args.no_write, args.no_regions = [], [], True, False
    delays = sorted({0.0, args.delay})
    page = pickle.loads(args.kept.read_bytes()) if args.kept else measure(args, sizes, parallelisms, delays)
    if args.keep:
        args.keep.write_bytes(pickle.dumps(page))
    report = performance_page.render(page, lambda groups, warm: expected_requests(groups, warm, page.every_asg))
    print()
    print(report)
    print(f"Headline: {performance_page.headline(page)}")
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        kept = owned_sections(args.out.read_text()) if args.out.exists() else []  # other benchmarks' sections
        args.out.write_text(report.rstrip("\n") + "".join(f"\n\n{section}" for section in kept).rstrip("\n") + "\n")
        print(f"wrote {args.out}")
        if args.readme.exists():
            args.readme.write_text(replace_section(args.readme.read_text(), "plan-scale",
                                                   performance_page.readme_speed(page)))
            print(f"wrote its figures in {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
