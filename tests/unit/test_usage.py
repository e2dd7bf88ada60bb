"""The usage report's pure parts: percentiles, verdicts against a group's thresholds, suggestions,
rows and their rendering. No server: node sets and CPU series are made here."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.config import parse_config
from infra.config.models import Usage
from infra.config.pricing import PriceFile, merged
from infra.config.scaling import Scaling
from infra.errors import ConfigError, InfraError
from infra.usage.model import CpuSeries, CpuStats, NodeSet, UsageReport, Verdict
from infra.usage.render import usage_json, usage_markdown, usage_text
from infra.usage.stats import percentile, summarise
from infra.usage.verdict import judge, nodes_for, row, suggest

PRICES = merged([("test prices", PriceFile(date="2026-11-30", source="made up for tests", hourly={
    "us-east-1": {"m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384, "t3.large": 0.0832,
                  "t3.xlarge": 0.1664}}))])
USAGE = Usage()  # idle below 10%, saturated above 80%, 30 h of data
WINDOW = 14 * 24


def cpu(p95: float, maximum: float | None = None, hours: float = 48.0) -> CpuStats:
    return CpuStats(average=p95 * 0.8, p95=p95, maximum=maximum if maximum is not None else p95 + 5,
                    periods=int(hours * 12), hours=hours)


def asg(running=4, kind="m5.xlarge", node_min=4, node_max=8, desired=None) -> NodeSet:
    return NodeSet(group="web", region="us-east-1", kind="asg", name="web-1a2b3c4d",
                   dimension=("AutoScalingGroupName", "web-1a2b3c4d"), instance_types=[kind] * running,
                   node_min=node_min, node_max=node_max, desired=running if desired is None else desired)


def test_percentiles_interpolate_between_the_nearest_ranks():
    assert percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert percentile([5.0, 1.0, 3.0], 100) == 5.0 and percentile([5.0, 1.0, 3.0], 0) == 1.0
    with pytest.raises(ValueError):
        percentile([], 95)


def test_a_series_sums_up_as_average_p95_of_the_averages_and_the_highest_maximum():
    series = CpuSeries(averages=[float(v) for v in range(1, 21)], maxima=[float(v) + 10 for v in range(1, 21)])
    stats = summarise(series, 300)
    assert (stats.average, stats.p95, stats.maximum) == (10.5, 19.05, 30.0)
    assert (stats.periods, stats.hours) == (20, round(20 * 5 / 60, 2))
    assert summarise(CpuSeries(), 300) is None


@pytest.mark.parametrize("p95, verdict, reason", [
    (4.0, Verdict.IDLE, "p95 CPU 4.0% is below 10%"),
    (93.5, Verdict.SATURATED, "p95 CPU 93.5% is above 80%"),
    (45.0, Verdict.FINE, "p95 CPU 45.0% is within 10..80%"),
    (10.0, Verdict.FINE, "p95 CPU 10.0% is within 10..80%"),
    (80.0, Verdict.FINE, "p95 CPU 80.0% is within 10..80%"),
])
def test_the_verdict_reads_the_p95_against_the_thresholds(p95, verdict, reason):
    assert judge(cpu(p95), 2, USAGE, WINDOW) == (verdict, reason)


def test_no_verdict_without_nodes_or_without_enough_data():
    assert judge(cpu(4.0), 0, USAGE, WINDOW) == (Verdict.UNKNOWN, "no nodes running")
    verdict, reason = judge(cpu(4.0, hours=12.0), 2, USAGE, WINDOW)
    assert verdict is Verdict.UNKNOWN and reason.startswith("12.0 h of CPU data in the window; a verdict needs 30 h")
    verdict, reason = judge(None, 2, USAGE, 24)
    assert verdict is Verdict.UNKNOWN and reason.endswith("more than the window holds: use --days 2 or more")


def test_thresholds_come_from_nodes_json_per_group_and_from_base():
    config = parse_config(json.dumps({
        "__base__": {"instance_type": "m5.large", "source_ami": "ami-1ebb2077", "usage": {"idle_below": 5}},
        "web": {"usage": {"saturated_above": 95, "min_hours": 2}}, "db": {}}))
    web, db = config.group("web").usage, config.group("db").usage
    assert (web.idle_below, web.saturated_above, web.min_hours) == (5, 95, 2)
    assert (db.idle_below, db.saturated_above, db.min_hours) == (5, 80, 30)
    assert judge(cpu(90.0), 2, web, WINDOW)[0] is Verdict.FINE
    assert judge(cpu(7.0), 2, db, WINDOW)[0] is Verdict.FINE


@pytest.mark.parametrize("usage, error", [
    ({"idle_below": 90}, "group 'web': key 'usage': idle_below (90) must be below saturated_above (80)"),
    ({"saturated_above": 101}, "group 'web': key 'usage.saturated_above': should be less than or equal to 100"),
    ({"min_hours": "30"}, "group 'web': key 'usage.min_hours': should be a valid number, got '30'"),
    ({"idle": 5}, "group 'web': unknown key 'usage.idle'"),
])
def test_bad_thresholds_are_located_errors(usage, error):
    text = json.dumps({"__base__": {"instance_type": "m5.large", "source_ami": "ami-1ebb2077"},
                       "web": {"usage": usage}}, indent=2)
    with pytest.raises(ConfigError) as raised:
        parse_config(text, "nodes.json")
    assert str(raised.value).startswith("nodes.json:") and error in str(raised.value)


def test_an_idle_group_is_offered_fewer_nodes_a_smaller_type_and_a_scaling_policy():
    found = suggest(Verdict.IDLE, cpu(6.0), asg(running=4), USAGE, PRICES)
    # 4 nodes at p95 6% carry 24 node-percent: one node would run near 24%, below the 60% aim.
    assert nodes_for(cpu(6.0), 4, USAGE) == 1
    assert found[0].text == "fewer nodes: 1 instead of 4 (lower desired and node_min to 1)"
    assert found[0].monthly_change == -420.48  # 3 x 0.192 x 730
    assert found[1].text == "a smaller instance type: m5.large at $0.096 an hour instead of $0.192"
    assert found[1].monthly_change == -280.32
    assert found[2].text == ('a scaling policy: target tracking on CPU lets it shrink when idle '
                             '(autoscale.scaling.target_tracking in nodes.json: '
                             '{"cpu": {"metric": "cpu", "target": 60}})')


def test_a_group_with_target_tracking_on_cpu_is_told_what_keeps_it_from_acting():
    tracking = Scaling(target_tracking={"cpu": {"metric": "cpu", "target": 55}})
    held = suggest(Verdict.IDLE, cpu(6.0), asg(running=2, node_min=2, node_max=8), USAGE, PRICES, scaling=tracking)
    assert held[-1].text == ("its target tracking on CPU (autoscale.scaling.target_tracking.cpu, target 55%) cannot "
                             "shrink it below node_min 2: lower node_min")
    one_way = Scaling(target_tracking={"cpu": {"metric": "cpu", "target": 55, "disable_scale_in": True}})
    assert "never shrinks it (disable_scale_in)" in suggest(
        Verdict.IDLE, cpu(6.0), asg(running=4, node_min=2, node_max=8), USAGE, PRICES, scaling=one_way)[-1].text
    capped = suggest(Verdict.SATURATED, cpu(95.0), asg(running=8, node_min=2, node_max=8), USAGE, PRICES,
                     scaling=tracking)
    assert capped[-1].text.endswith("cannot grow it past node_max 8: raise node_max")
    hot = suggest(Verdict.SATURATED, cpu(85.0), asg(running=4, node_min=2, node_max=8), USAGE, PRICES,
                  scaling=tracking)
    assert hot[-1].text.endswith("lets it run hot: a lower target, or a shorter warmup, grows it sooner")


def test_an_idle_group_that_peaks_is_not_offered_a_smaller_type():
    texts = [s.text for s in suggest(Verdict.IDLE, cpu(6.0, maximum=97.0), asg(), USAGE, PRICES)]
    assert "not a smaller type: it peaks at 97% CPU, which m5.large could not absorb" in texts[1]


def test_a_saturated_group_at_node_max_is_offered_a_higher_node_max_a_larger_type_and_a_policy():
    found = suggest(Verdict.SATURATED, cpu(95.0), asg(running=8, node_min=2, node_max=8), USAGE, PRICES)
    assert found[0].text == "more nodes: 13 instead of 8 (it runs at node_max: raise node_max and desired to 13)"
    assert found[0].monthly_change == round(5 * 0.192 * 730, 2)
    assert found[1].text.startswith("a larger instance type: m5.2xlarge")
    assert "grow under load" in found[2].text
    below_max = suggest(Verdict.SATURATED, cpu(85.0), asg(running=2, node_min=2, node_max=8), USAGE, PRICES)
    assert below_max[0].text == "more nodes: 3 instead of 2 (raise desired, and node_min, to 3)"


def test_a_saturated_burstable_type_is_told_about_cpu_credits():
    texts = [s.text for s in suggest(Verdict.SATURATED, cpu(90.0), asg(kind="t3.large"), USAGE, PRICES)]
    assert any("t3.large is burstable" in text and "CPUCreditBalance" in text for text in texts)


def test_an_idle_one_off_instance_is_offered_to_go_and_no_scaling_policy():
    instance = NodeSet(group="web", region="us-east-1", kind="instance", name="tools",
                       dimension=("InstanceId", "i-0123"), instance_types=["m5.xlarge"])
    found = suggest(Verdict.IDLE, cpu(2.0), instance, USAGE, PRICES)
    assert found[0].text == "no node: terminate instance.web.tools if nothing needs it"
    assert found[0].monthly_change == -140.16
    assert not any("autoscale.scaling" in s.text for s in found)


def test_fine_and_unknown_suggest_nothing():
    assert suggest(Verdict.FINE, cpu(50.0), asg(), USAGE, PRICES) == []
    assert suggest(Verdict.UNKNOWN, None, asg(), USAGE, PRICES) == []


def group_of(instance_type="m5.xlarge"):
    return parse_config(json.dumps({"__base__": {"instance_type": instance_type, "source_ami": "ami-1ebb2077"},
                                    "web": {"autoscale": {"node_min": 4, "node_max": 8}}})).group("web")


def series(level: float, periods: int = 600) -> CpuSeries:
    return CpuSeries(averages=[level] * periods, maxima=[level + 3] * periods)


def test_a_row_prices_the_running_nodes_and_says_no_price_without_guessing():
    priced = row(asg(), series(5.0), group_of(), PRICES, period_seconds=300, window_hours=WINDOW)
    assert (priced.nodes, priced.hourly, priced.monthly, priced.verdict) == (4, 0.192, 560.64, Verdict.IDLE)
    unpriced = row(asg(kind="m9.huge"), series(5.0), group_of("m9.huge"), PRICES, period_seconds=300,
                   window_hours=WINDOW)
    assert unpriced.hourly is None and unpriced.monthly is None
    assert "no price" in usage_text(report(unpriced), color=False)


def report(*rows) -> UsageReport:
    return UsageReport(days=14, start="2026-11-16T06:00:00+00:00", end="2026-11-30T06:00:00+00:00",
                       period_seconds=300, metric="AWS/EC2 CPUUtilization", prices=list(PRICES.sources),
                       rows=list(rows))


def test_the_report_renders_the_numbers_the_verdict_and_the_thresholds_in_every_format():
    idle = row(asg(), series(5.0), group_of(), PRICES, period_seconds=300, window_hours=WINDOW)
    fine = row(asg(running=2), series(50.0), group_of(), PRICES, period_seconds=300, window_hours=WINDOW)
    text = usage_text(report(idle, fine), color=False)
    assert "4 running (node_min 4, node_max 8, desired 4) × m5.xlarge at $0.192 an hour: $560.64 a month" in text
    assert "CPU        average 5.0%, p95 5.0%, maximum 8.0% (50.0 h of data)" in text
    assert "verdict    IDLE: p95 CPU 5.0% is below 10%" in text
    assert "thresholds idle below 10%, saturated above 80%, needs 30 h of data" in text
    assert "1 of 2 need attention (idle: web)" in text and "Prices: test prices (2026-11-30: made up for tests)" in text
    markdown = usage_markdown(report(idle, fine))
    assert markdown.startswith("### infra usage: 1 of 2 need attention")
    assert "| `web` (asg web-1a2b3c4d) | 4 | m5.xlarge | $0.192 | $560.64 | 5.0% | 5.0% | 8.0% | **idle** |" in markdown
    document = json.loads(usage_json(report(idle, fine)))
    assert document["findings"] == 1 and [r["verdict"] for r in document["rows"]] == ["idle", "fine"]
    assert document["rows"][0]["thresholds"] == {"idle_below": 10.0, "saturated_above": 80.0, "min_hours": 30.0}


class FakeReader:
    """What the AWS provider would find: node sets by region, and a CPU level for each."""

    def __init__(self, found: dict[str, list[NodeSet]], levels: dict[str, float]) -> None:
        self.found, self.levels, self.asked = found, levels, []

    def nodes(self, region, groups):
        self.asked.append((region, sorted(groups)))
        return [n for n in self.found.get(region, []) if n.group in groups]

    def cpu(self, region, nodes, start, end):
        assert end - start == timedelta(days=2)
        return [series(self.levels[n.name]) for n in nodes]


def test_the_report_asks_each_region_once_and_shows_groups_that_run_nothing_yet(tmp_path):
    from infra.operations.usage import usage_report
    from infra.workspace import AwsOptions, Workspace

    (tmp_path / "nodes.json").write_text(json.dumps({
        "__base__": {"instance_type": "m5.xlarge", "source_ami": "ami-1ebb2077"},
        "web": {"autoscale": {"node_min": 4, "node_max": 8}},
        "tools": {},  # no autoscale, no one-off instance: left out unless named
        "db": {"autoscale": {"node_min": 1}, "region": "eu-west-1"}}))
    tools = NodeSet(group="web", region="us-east-1", kind="instance", name="tools-1", dimension=("InstanceId", "i-1"),
                    instance_types=["m5.xlarge"])
    reader = FakeReader({"us-east-1": [tools, asg()]}, {"web-1a2b3c4d": 50.0, "tools-1": 2.0})
    workspace = Workspace(tmp_path / "nodes.json")
    report = usage_report(workspace, days=2, now=datetime(2026, 11, 30, 6, 0, tzinfo=UTC), reader=reader)
    assert reader.asked == [("us-east-1", ["tools", "web"]), ("eu-west-1", ["db"])]
    assert [(r.group, r.kind, r.verdict.value) for r in report.rows] == [
        ("web", "asg", "fine"), ("web", "instance", "idle"), ("db", "asg", "unknown")]
    assert report.rows[2].reason.startswith("no autoscaling group of this project found")
    assert report.rows[2].hourly is None  # eu-west-1 has no price in the shipped table
    assert report.findings == 1 and report.start == "2026-11-28T06:00:00+00:00"
    named = usage_report(workspace, ["tools"], days=2, reader=FakeReader({}, {}))
    assert [(r.group, r.reason) for r in named.rows] == [
        ("tools", "runs no nodes: no autoscale block and no one-off instances")]
    moved = FakeReader({}, {})
    usage_report(Workspace(tmp_path / "nodes.json", AwsOptions(region="us-west-2")), days=2, reader=moved)
    assert moved.asked == [("us-west-2", ["db", "tools", "web"])]
    with pytest.raises(InfraError, match="--days 0: give 1 to 63"):
        usage_report(workspace, days=0, reader=moved)
