"""Plans and drift reports as text (like Terraform's), JSON, and Markdown for pull requests.

Values under secret-looking keys, and URL passwords, are masked in every format (infra/redact.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from rich.markup import escape

from infra.config.pricing import described, dollars
from infra.reconciler.actions import ActionKind
from infra.reconciler.cost import CostItem, Nodes, PlanCost
from infra.reconciler.drift import DriftReport
from infra.reconciler.graph_render import markdown_charts
from infra.reconciler.plan import Action, AttributeChange, Plan
from infra.reconciler.plan_json import document_lines
from infra.reconciler.removals import removed
from infra.reconciler.rolls import roll_of
from infra.reconciler.shown import MAX_VALUE, show_value
from infra.redact import masked

ABSENT = "(absent)"
_STYLE = {ActionKind.CREATE: "green", ActionKind.BUILD: "cyan", ActionKind.UPDATE: "yellow",
          ActionKind.REPLACE: "magenta", ActionKind.DELETE: "red", ActionKind.NOOP: "dim", ActionKind.ADOPT: "blue",
          ActionKind.REFRESH: "blue", ActionKind.PROMOTE: "cyan"}
# A row of the Markdown plan's table of changes, but for the address and the reason: `| `+` | `` and `` | create | ``.
_ROW_CELLS = {kind: (f"| `{kind.mark}` | `", f"` | {kind.name.lower()} | ") for kind in ActionKind}
_DIFF_MARKS = {"+": "+ ", "-": "- "}  # a diff's marks for what a plan sets and removes; "! " for what it changes


def show_side(change: AttributeChange, side: str, limit: int | None = MAX_VALUE) -> str:
    """One side (`before` or `after`) of a change as shown: a key that is not there reads `(absent)`."""
    if getattr(change, f"{side}_absent"):
        return ABSENT
    return show_value(getattr(change, side), change.path, limit)


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    if plan.refresh_only:
        return _refresh_summary(plan)
    changes = plan.changes  # a property: a walk of every action each time
    if not changes and plan.held:
        return (f"No changes to apply, but {len(plan.held)} held back from nodes.json: "
                + "; ".join(f"{a.address} ({_why_held(a)})" for a in plan.held) + ".")
    if not changes:
        return "No changes. The infrastructure matches nodes.json."
    adopt = f", {counts['adopt']} to adopt" if counts["adopt"] else ""
    promote = f", {counts['promote']} to promote" if counts["promote"] else ""
    return (f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy, "
            f"{counts['build']} to build{adopt}{promote}.")


def _why_held(action: Action) -> str:
    """Why, in a few words, and the command that ends it: the summary line's share of `held`."""
    if action.before and action.before.get("roll"):
        return f"roll paused: infra rollout promote {action.group} or abort {action.group}"
    return f"rolled back: infra autoscale:update {action.group} rolls it forward"


def _refresh_summary(plan: Plan) -> str:
    if not plan.changes:
        return "No changes. The state records what exists: nothing to refresh."
    forgotten = sum(1 for action in plan.changes if action.after is None)
    gone = f" ({forgotten} gone, to forget)" if forgotten else ""
    return (f"Refresh-only plan: {len(plan.changes)} to record in state{gone}; nothing else changes. nodes.json "
            f"is not changed: edit it to keep what you accept, or the next apply puts it back.")


def notice_lines(plan: Plan) -> list[str]:
    """What the plan found that is not this project's, and leaves alone."""
    return [f"{notice.address}: {notice.description}: {notice.reason}" for notice in plan.notices]


def excluded_line(plan: Plan, at_most: int = 20) -> str:
    """What --exclude left out of the plan, which apply leaves as it is ("" when nothing)."""
    if not plan.excluded:
        return ""
    shown = ", ".join(plan.excluded[:at_most])
    more = f" and {len(plan.excluded) - at_most} more" if len(plan.excluded) > at_most else ""
    return f"left out by --exclude, with what depends on it ({len(plan.excluded)}): {shown}{more}"


def roll_warnings(action: Action) -> list[str]:
    """What a roll would meet at once (observed: an alarm it watches in ALARM, a target group with no
    healthy target), shown under the roll; nothing for an action that does not roll."""
    return list((action.before or {}).get("roll_warnings") or []) if roll_of(action) else []


def held_lines(plan: Plan) -> list[str]:
    """What the plan keeps back that nodes.json asks for (a group infra rollback took back)."""
    return [f"{action.address}: {action.held}" for action in plan.actions if action.held]


def _attribute_lines(action: Action, limit: int | None = MAX_VALUE) -> list[str]:
    """What a change sets (`+`), changes (`~`) and removes (`-`, named: AMI ids, instance ids, files)."""
    gone = [f"    - {line}" for line in removed(action)]
    if action.action is ActionKind.CREATE or (action.action in (ActionKind.BUILD, ActionKind.PROMOTE)
                                              and not action.changes):
        return [f"    + {key} = {show_value(value, key, limit)}" for key, value in (action.after or {}).items()]
    if action.action is ActionKind.DELETE:
        return gone
    return [_change_line(c, limit) for c in _expanded(action.changes)] + gone


def _change_line(change: AttributeChange, limit: int | None) -> str:
    """`~ path: before -> after`; an item put into or taken out of a list as such (`+`/`-` and
    where), since the items after it only shift."""
    if change.op == "insert":
        return f"    + {change.list_path}: {show_side(change, 'after', limit)} (inserted at {change.index})"
    if change.op == "remove":
        return f"    - {change.list_path}: {show_side(change, 'before', limit)} (removed from {change.index})"
    return f"    ~ {change.path}: {show_side(change, 'before', limit)} -> {show_side(change, 'after', limit)}"


def _expanded(changes: list[AttributeChange]) -> list[AttributeChange]:
    """An object added where there was none (a scaling policy) as one change per value it sets,
    so that no part of it is cut off; its unset (null) values are left out."""
    shown: list[AttributeChange] = []
    for change in changes:
        added = (change.op == "change" and (change.before_absent or change.before == {})
                 and isinstance(change.after, dict) and change.after)
        if not added:
            shown.append(change)
            continue
        for path, value in _leaves(change.path, change.after):
            shown.append(AttributeChange(path=path, before=None, after=value, before_absent=True))
    return shown


def _leaves(path: str, value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict) or not value:
        return [] if value is None else [(path, value)]
    return [leaf for key, item in value.items() for leaf in _leaves(f"{path}.{key}", item)]


def plan_text(plan: Plan, *, color: bool = True) -> str:
    """Terraform-like text; `color` adds rich markup (the console strips it when not a terminal)."""
    return "\n".join(plan_text_lines(plan, color=color))


def plan_text_lines(plan: Plan, *, color: bool = True) -> Iterator[str]:
    """`plan_text` in pieces of whole lines (an action's lines, joined by newlines), to print as they
    come: 10,000 groups are 540,000 lines, and holding them all, then joining them, took more memory
    than the rest of the report; yielding them one by one, a tenth of its time."""
    changes = plan.changes  # a property: a walk of every action each time
    for action in changes:
        mark = action.action.mark
        style = _STYLE[action.action]
        verb = "forgotten from state" if action.action is ActionKind.REFRESH and action.after is None \
            else action.action.verb
        head = f"  # {action.address} will be {verb}: {action.reason}"
        if action.protected:
            head += " [PROTECTED: needs --allow-destroy]"
        entry = f"{mark:>3} {action.address}"
        roll = roll_of(action)
        lines = _attribute_lines(action)
        if roll:
            lines += [f"    roll: {roll.summary()}", *(f"    ! {warning}" for warning in roll_warnings(action))]
        if color:
            lines = [f"[bold]{escape(head)}[/]", f"[{style}]{escape(entry)}[/]", *map(escape, lines)]
        else:
            lines[:0] = (head, entry)
        lines.append("")
        yield "\n".join(lines)
    deletions = [a for a in changes if a.action.destroys]
    if deletions:
        warn = (f"  ! {len(deletions)} resource(s) will be destroyed or replaced: "
                + ", ".join(a.address for a in deletions))
        yield f"[bold red]{escape(warn)}[/]" if color else warn
    for notice in [*held_lines(plan), *notice_lines(plan), excluded_line(plan)]:
        if notice:
            line = f"  ! {notice}"
            yield f"[yellow]{escape(line)}[/]" if color else line
    yield f"[bold]{summary_line(plan)}[/]" if color else summary_line(plan)


def plan_json(plan: Plan) -> str:
    """The plan's document (docs/plan-json.md), as a saved plan holds it, with secrets masked."""
    return "\n".join(plan_json_lines(plan))


def plan_json_lines(plan: Plan) -> Iterator[str]:
    """`plan_json` in lines to print as they come, never joined (80 MB at 10,000 groups)."""
    return document_lines(plan, mask=masked)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment: headline, a table of changes, and the attribute diffs folded."""
    return "\n".join(plan_markdown_lines(plan))


def plan_markdown_lines(plan: Plan) -> Iterator[str]:
    """`plan_markdown` in pieces of whole lines, to print as they come (its attribute changes of
    10,000 groups are hundreds of thousands of lines)."""
    lines = [f"### infra plan: {summary_line(plan)}", ""]
    notices = notice_lines(plan)
    if notices:
        lines += ["> **Found, not this project's:**", *(f"> - {line}" for line in notices), ""]
    if plan.excluded:
        lines += [f"> **Left out by --exclude**, with what depends on it: {', '.join(f'`{a}`' for a in plan.excluded)}",
                  ""]
    held = held_lines(plan)
    if held:
        lines += ["> **Held back:**", *(f"> - {line}" for line in held), ""]
    changes = plan.changes  # a property: a walk of every action each time
    if not changes:
        yield from lines
        return
    lines += ["| | address | action | reason |", "|---|---|---|---|"]
    for action in changes:  # a row for each: 60,000 at 10,000 groups
        reason = action.reason.replace("|", "\\|") + (" **(protected)**" if action.protected else "")
        mark, name = _ROW_CELLS[action.action]
        lines.append(mark + action.address + name + reason + " |")
    rolls = [(a, roll) for a in changes if (roll := roll_of(a))]
    if rolls:
        lines += ["", "**How the rolls go:**", *(f"- `{a.address}`: {roll.summary()}"
                                                 + "".join(f" **Warning:** {w}." for w in roll_warnings(a))
                                                 for a, roll in rolls)]
    destroyed = [a.address for a in changes if a.action.destroys]
    if destroyed:
        lines += ["", f"> **Warning:** destroys or replaces {', '.join(f'`{a}`' for a in destroyed)}"]
    if plan.cost is not None:
        lines += ["", *cost_markdown(plan.cost)]
    lines += markdown_charts(plan)  # the order of the changes and the rolls' time lines (graph_render.py)
    yield from lines
    yield from ("", "<details><summary>Attribute changes</summary>", "", "```diff")
    for action in changes:  # whole values here: the details are where a reviewer reads them
        lines = [f"# {action.address}: {action.action.name.lower()}"]  # an action's lines at a time
        for line in _attribute_lines(action, limit=None):
            stripped = line.strip()
            lines.append(_DIFF_MARKS.get(stripped[:1], "! ") + stripped[2:])
        yield "\n".join(lines)
    yield from ("```", "", "</details>")


def cost_markdown(cost: PlanCost) -> list[str]:
    """The plan's monthly cost change, per group and in total, and what it rests on."""
    basis = (f"Prices: {described(cost.prices)}. "
             f"On-demand, {cost.hours_per_month} hours a month; only nodes are counted, not EBS volumes, AMI "
             f"snapshots or data transfer.")
    if not cost.items:
        return [f"**Monthly cost: no change.** {basis}"]
    total = dollars(cost.monthly_change, signed=True) + (" (and what has no price)" if cost.unpriced else "")
    lines = [f"**Monthly cost: {total}**", "", "| group | before | after | per month |", "|---|---|---|---|"]
    for group, change in cost.groups.items():
        items = [item for item in cost.items if item.group == group]
        lines.append(f"| `{group}` | {_sides(items, 'before')} | {_sides(items, 'after')} | "
                     f"{dollars(change, signed=True)} |")
    lines.append(f"| **total** | | | **{dollars(cost.monthly_change, signed=True)}** |")
    lines.append("")
    for item in cost.items:
        if item.one_off:
            seconds = item.roll_seconds
            lasting = f"{seconds} s" if seconds < 120 else f"{seconds / 60:.0f} min"
            lines.append(f"- `{item.address}` rolls: its new nodes run beside the old ones for up to {lasting} "
                         f"(healthy_deadline + timeout): at most {dollars(item.one_off)} once.")
    if cost.unpriced:
        lines.append(f"- No price for {', '.join(cost.unpriced)}: not in the total (add it to ec2-prices.json).")
    return lines + [f"- {basis}"]


def _sides(items: list[CostItem], side: str) -> str:
    """One side of a group's changes, as a table cell: `2 × m1.large: $255.50`, address first when several."""
    shown = []
    for item in items:
        nodes: Nodes | None = getattr(item, side)
        text = "none" if nodes is None else f"{nodes.described()}: {dollars(nodes.monthly)}"
        shown.append(f"`{item.address}`: {text}" if len(items) > 1 else text)
    return "<br>".join(shown)


def _no_drift(report: DriftReport) -> str:
    if report.never_applied:
        return f"No drift: nothing was applied yet (no state at {report.never_applied}; --allow-empty)."
    return f"No drift: {report.checked} resource(s) match what infra last applied."


def _held_drift(report: DriftReport, color: bool) -> list[str]:
    """What infra holds back from nodes.json (a rollback, a paused roll), each with its way out."""
    if not report.held:
        return []
    lines = [f"Held back from nodes.json by infra ({len(report.held)}): the fleet differs from it until released:"]
    for item in report.held:
        line = f"  ! {item.address}: {item.reason}"
        lines.append(f"[yellow]{escape(line)}[/]" if color else line)
    return lines


def drift_text(report: DriftReport, *, color: bool = True) -> str:
    if not report.has_drift:
        return _no_drift(report)
    if not report.drifted:
        return "\n".join([f"No drift outside infra in {report.checked} resource(s).", *_held_drift(report, color)])
    lines = [*_held_drift(report, color), f"Drift in {len(report.drifted)} of {report.checked} resource(s):"]
    for item in report.drifted:
        if item.status == "missing":
            line = f"  - {item.address}: deleted outside infra"
            lines.append(f"[red]{escape(line)}[/]" if color else line)
            continue
        line = f"  ~ {item.address}: changed outside infra"
        lines.append(f"[yellow]{escape(line)}[/]" if color else line)
        for change in item.changes:
            detail = f"      {_drift_detail(change)}"
            lines.append(escape(detail) if color else detail)
    lines.append("Run infra plan to see how apply would put it back.")
    return "\n".join(lines)


def _drift_detail(change: AttributeChange) -> str:
    if change.op == "insert":
        return f"{change.list_path}: {show_side(change, 'after')} inserted at {change.index} (recorded: not there)"
    if change.op == "remove":
        return f"{change.list_path}: {show_side(change, 'before')} removed from {change.index} (actual: not there)"
    return f"{change.path}: recorded {show_side(change, 'before')}, actual {show_side(change, 'after')}"


def drift_json(report: DriftReport) -> str:
    data = report.model_dump(mode="json")
    for item in data["drifted"]:
        for change in item["changes"]:
            change["recorded"] = masked(change.pop("before"), change["path"])
            change["actual"] = masked(change.pop("after"), change["path"])
            change["recorded_absent"] = change.pop("before_absent")
            change["actual_absent"] = change.pop("after_absent")
    data["has_drift"] = report.has_drift
    return json.dumps(data, indent=2)


def drift_markdown(report: DriftReport) -> str:
    if not report.has_drift:
        said = _no_drift(report).removeprefix("No drift: ")
        return f"### infra drift: none\n\n{said[:1].upper()}{said[1:]}"
    held = [f"> - `{item.address}`: {item.reason}" for item in report.held]
    if not report.drifted:
        return "\n".join([f"### infra drift: {len(held)} held back from nodes.json", "", *held])
    lines = [f"### infra drift: {len(report.drifted)} of {report.checked} resource(s) changed outside infra", "",
             *(["> **Held back from nodes.json:**", *held, ""] if held else []),
             "| address | attribute | recorded | actual |", "|---|---|---|---|"]
    for item in report.drifted:
        if item.status == "missing":
            lines.append(f"| `{item.address}` | (whole resource) | exists | **deleted** |")
        for change in item.changes:
            recorded, actual = _drift_cell(change, "before"), _drift_cell(change, "after")
            lines.append(f"| `{item.address}` | `{change.list_path}` | {recorded} | {actual} |")
    return "\n".join(lines)


def _drift_cell(change: AttributeChange, side: str) -> str:
    """One side of a drifted value as a table cell; an item put into or taken out of a list says where."""
    if change.op != "change" and (change.op == "insert") != (side == "after"):
        return "(not there)"
    shown = "`" + show_side(change, side, 60).replace("|", "\\|") + "`"
    if change.op == "change":
        return shown
    return f"{shown} ({'inserted at' if change.op == 'insert' else 'removed from'} {change.index})"
