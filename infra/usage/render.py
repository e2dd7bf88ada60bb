"""The usage report as text (for people at a terminal), JSON (for scripts) and Markdown (for an issue)."""

from __future__ import annotations

import json

from rich.markup import escape

from infra.config.pricing import described, dollars
from infra.usage.model import Suggestion, UsageReport, UsageRow, Verdict

_STYLE = {Verdict.IDLE: "yellow", Verdict.SATURATED: "red", Verdict.FINE: "green", Verdict.UNKNOWN: "dim"}


def usage_text(report: UsageReport, *, color: bool = True) -> str:
    lines = [_window(report), ""]
    for item in report.rows:
        head = f"{item.group}  {_what(item)}  {item.region}"
        lines.append(f"[bold]{escape(head)}[/]" if color else head)
        verdict = f"{item.verdict.value.upper()}: {item.reason}"
        body = [("nodes", _nodes(item)), ("CPU", _cpu(item)),
                ("verdict", f"[{_STYLE[item.verdict]}]{escape(verdict)}[/]" if color else verdict)]
        if item.verdict is not Verdict.UNKNOWN:
            body.append(("thresholds", _thresholds(item)))
        body += [("options" if i == 0 else "", _suggestion(s)) for i, s in enumerate(item.suggestions)]
        for label, text in body:
            lines.append(f"  {label:<11}" + (text if color and label == "verdict" else escape(text) if color else text))
        lines.append("")
    lines += [_summary(report), f"Prices: {described(report.prices)}."]
    return "\n".join(lines)


def usage_json(report: UsageReport) -> str:
    return json.dumps(report.model_dump(mode="json"), indent=2)


def usage_markdown(report: UsageReport) -> str:
    lines = [f"### infra usage: {_headline(report)}", "", _window(report), "",
             "| group | nodes | type | per hour | per month | CPU average | p95 | maximum | verdict |",
             "|---|---|---|---|---|---|---|---|---|"]
    for item in report.rows:
        cpu = [f"{v:.1f}%" for v in (item.cpu.average, item.cpu.p95, item.cpu.maximum)] if item.cpu else ["-"] * 3
        verdict = f"**{item.verdict.value}**" if item.verdict.is_finding else item.verdict.value
        lines.append(f"| `{item.group}` ({_what(item)}) | {item.nodes} | {', '.join(item.instance_types)} | "
                     f"{dollars(item.hourly) if len(item.instance_types) == 1 else 'mixed'} | "
                     f"{dollars(item.monthly)} | {' | '.join(cpu)} | {verdict} |")
    for item in report.rows:
        if item.verdict.is_finding or (item.verdict is Verdict.UNKNOWN and item.nodes):
            lines += ["", f"**`{item.group}`** ({_what(item)}) is {item.verdict.value}: {item.reason} "
                          f"({_thresholds(item)}).", *(f"- {_suggestion(s)}" for s in item.suggestions)]
    lines += ["", f"{_summary(report)} Prices: {described(report.prices)}."]
    return "\n".join(lines)


def _window(report: UsageReport) -> str:
    return (f"Usage over {report.days} day{'s' if report.days != 1 else ''}, {report.start[:16].replace('T', ' ')} to "
            f"{report.end[:16].replace('T', ' ')} UTC: {report.metric} per {report.period_seconds // 60} minutes; "
            f"verdicts on the p95 of those averages.")


def _what(item: UsageRow) -> str:
    if item.kind == "asg":
        return f"asg {item.name}" if item.name else "asg (none found)"
    return f"instance {item.name}" if item.kind == "instance" else "no nodes"


def _nodes(item: UsageRow) -> str:
    sizes = ", ".join(f"{k} {v}" for k, v in (("node_min", item.node_min), ("node_max", item.node_max),
                                              ("desired", item.desired)) if v is not None)
    kinds = ", ".join(item.instance_types)
    hourly = f" at {dollars(item.hourly)} an hour" if len(item.instance_types) == 1 else ""
    return (f"{item.nodes} running" + (f" ({sizes})" if sizes else "") + f" × {kinds}{hourly}: "
            f"{dollars(item.monthly)} a month")


def _cpu(item: UsageRow) -> str:
    if item.cpu is None:
        return "no data in the window"
    cpu = item.cpu
    return (f"average {cpu.average:.1f}%, p95 {cpu.p95:.1f}%, maximum {cpu.maximum:.1f}% "
            f"({cpu.hours:.1f} h of data)")


def _thresholds(item: UsageRow) -> str:
    usage = item.thresholds
    return (f"idle below {usage.idle_below:g}%, saturated above {usage.saturated_above:g}%, "
            f"needs {usage.min_hours:g} h of data")


def _suggestion(suggestion: Suggestion) -> str:
    change = suggestion.monthly_change
    return suggestion.text + (f": {dollars(change, signed=True)} a month" if change is not None else "")


def _headline(report: UsageReport) -> str:
    if not report.findings:
        return f"nothing idle or saturated ({len(report.rows)} looked at)" if report.rows else "no groups with nodes"
    return f"{report.findings} of {len(report.rows)} need attention"


def _summary(report: UsageReport) -> str:
    flagged = {verdict: [r.group for r in report.rows if r.verdict is verdict]
               for verdict in (Verdict.IDLE, Verdict.SATURATED)}
    found = "; ".join(f"{v.value}: {', '.join(names)}" for v, names in flagged.items() if names)
    return (f"{_headline(report).capitalize()}" + (f" ({found})" if found else "") +
            f". The running nodes cost {dollars(report.monthly)} a month.")
