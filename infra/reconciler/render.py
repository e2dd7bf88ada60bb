"""Plans and drift reports as text (like Terraform's), JSON, and Markdown for pull requests.

Values under secret-looking keys, and URL passwords, are masked in every format (infra/redact.py).
"""

from __future__ import annotations

import json
import re
from typing import Any

from rich.markup import escape

from infra.reconciler.actions import ActionKind
from infra.reconciler.drift import DriftReport
from infra.reconciler.plan import Action, AttributeChange, Plan
from infra.reconciler.plan_json import plan_document
from infra.reconciler.refs import parse_ref
from infra.reconciler.removals import removed
from infra.redact import masked

UNKNOWN = "(known after apply)"
ABSENT = "(absent)"
_STYLE = {ActionKind.CREATE: "green", ActionKind.BUILD: "cyan", ActionKind.UPDATE: "yellow",
          ActionKind.REPLACE: "magenta", ActionKind.DELETE: "red", ActionKind.NOOP: "dim", ActionKind.ADOPT: "blue",
          ActionKind.PROMOTE: "cyan"}
_MAX_VALUE = 100


def show_value(value: Any, path: str = "", limit: int | None = _MAX_VALUE) -> str:
    """A value as a plan shows it: JSON, secrets masked, unknown ones said so, cut at `limit` (None: whole)."""
    value = masked(value, path)
    if parse_ref(value) is not None:
        return UNKNOWN
    text = json.dumps(value, default=str)
    for reference in re.findall(r'"\$\{[a-z_]+\.[A-Za-z0-9_.-]+\}"', text):
        text = text.replace(reference, UNKNOWN)
    return text if limit is None or len(text) <= limit else text[:limit - 3] + "..."


def show_side(change: AttributeChange, side: str, limit: int | None = _MAX_VALUE) -> str:
    """One side (`before` or `after`) of a change as shown: a key that is not there reads `(absent)`."""
    if getattr(change, f"{side}_absent"):
        return ABSENT
    return show_value(getattr(change, side), change.path, limit)


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    if not plan.changes:
        return "No changes. The infrastructure matches nodes.json."
    adopt = f", {counts['adopt']} to adopt" if counts["adopt"] else ""
    promote = f", {counts['promote']} to promote" if counts["promote"] else ""
    return (f"Plan: {counts['add']} to add, {counts['change']} to change, {counts['destroy']} to destroy, "
            f"{counts['build']} to build{adopt}{promote}.")


def notice_lines(plan: Plan) -> list[str]:
    """What the plan found that is not this project's, and leaves alone."""
    return [f"{notice.address}: {notice.description}: {notice.reason}" for notice in plan.notices]


def _attribute_lines(action: Action, limit: int | None = _MAX_VALUE) -> list[str]:
    """What a change sets (`+`), changes (`~`) and removes (`-`, named: AMI ids, instance ids, files)."""
    gone = [f"    - {line}" for line in removed(action)]
    if action.action is ActionKind.CREATE or (action.action in (ActionKind.BUILD, ActionKind.PROMOTE)
                                              and not action.changes):
        return [f"    + {key} = {show_value(value, key, limit)}" for key, value in (action.after or {}).items()]
    if action.action is ActionKind.DELETE:
        return gone
    return [f"    ~ {c.path}: {show_side(c, 'before', limit)} -> {show_side(c, 'after', limit)}"
            for c in action.changes] + gone


def plan_text(plan: Plan, *, color: bool = True) -> str:
    """Terraform-like text; `color` adds rich markup (the console strips it when not a terminal)."""
    lines: list[str] = []
    for action in plan.changes:
        mark = action.action.mark
        style = _STYLE[action.action]
        head = f"  # {action.address} will be {action.action.verb}: {action.reason}"
        if action.protected:
            head += " [PROTECTED: needs --allow-destroy]"
        lines.append(f"[bold]{escape(head)}[/]" if color else head)
        entry = f"{mark:>3} {action.address}"
        lines.append(f"[{style}]{escape(entry)}[/]" if color else entry)
        for line in _attribute_lines(action):
            lines.append(escape(line) if color else line)
        lines.append("")
    deletions = [a for a in plan.changes if a.action.destroys]
    if deletions:
        warn = f"  ! {len(deletions)} resource(s) will be destroyed or replaced: " + ", ".join(a.address for a in deletions)
        lines.append(f"[bold red]{escape(warn)}[/]" if color else warn)
    for notice in notice_lines(plan):
        line = f"  ! {notice}"
        lines.append(f"[yellow]{escape(line)}[/]" if color else line)
    lines.append(f"[bold]{summary_line(plan)}[/]" if color else summary_line(plan))
    return "\n".join(lines)


def plan_json(plan: Plan) -> str:
    """The plan's document (docs/plan-json.md), as a saved plan holds it, with secrets masked."""
    return json.dumps(plan_document(plan, mask=masked), indent=2)


def plan_markdown(plan: Plan) -> str:
    """A pull-request comment: headline, a table of changes, and the attribute diffs folded."""
    lines = [f"### infra plan: {summary_line(plan)}", ""]
    notices = notice_lines(plan)
    if notices:
        lines += ["> **Found, not this project's:**", *(f"> - {line}" for line in notices), ""]
    if not plan.changes:
        return "\n".join(lines)
    lines += ["| | address | action | reason |", "|---|---|---|---|"]
    for action in plan.changes:
        reason = action.reason.replace("|", "\\|") + (" **(protected)**" if action.protected else "")
        lines.append(f"| `{action.action.mark}` | `{action.address}` | {action.action.name.lower()} | {reason} |")
    destroyed = [a.address for a in plan.changes if a.action.destroys]
    if destroyed:
        lines += ["", f"> **Warning:** destroys or replaces {', '.join(f'`{a}`' for a in destroyed)}"]
    lines += ["", "<details><summary>Attribute changes</summary>", "", "```diff"]
    for action in plan.changes:  # whole values here: the details are where a reviewer reads them
        lines.append(f"# {action.address}: {action.action.name.lower()}")
        for line in _attribute_lines(action, limit=None):
            stripped = line.strip()
            lines.append({"+": "+ ", "-": "- "}.get(stripped[:1], "! ") + stripped[2:])
    lines += ["```", "", "</details>"]
    return "\n".join(lines)


def drift_text(report: DriftReport, *, color: bool = True) -> str:
    if not report.has_drift:
        return f"No drift: {report.checked} resource(s) match what infra last applied."
    lines = [f"Drift in {len(report.drifted)} of {report.checked} resource(s):"]
    for item in report.drifted:
        if item.status == "missing":
            line = f"  - {item.address}: deleted outside infra"
            lines.append(f"[red]{escape(line)}[/]" if color else line)
            continue
        line = f"  ~ {item.address}: changed outside infra"
        lines.append(f"[yellow]{escape(line)}[/]" if color else line)
        for change in item.changes:
            detail = f"      {change.path}: recorded {show_side(change, 'before')}, actual {show_side(change, 'after')}"
            lines.append(escape(detail) if color else detail)
    lines.append("Run infra plan to see how apply would put it back.")
    return "\n".join(lines)


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
        return f"### infra drift: none\n\n{report.checked} resource(s) match what infra last applied."
    lines = [f"### infra drift: {len(report.drifted)} of {report.checked} resource(s) changed outside infra", "",
             "| address | attribute | recorded | actual |", "|---|---|---|---|"]
    for item in report.drifted:
        if item.status == "missing":
            lines.append(f"| `{item.address}` | (whole resource) | exists | **deleted** |")
        for change in item.changes:
            recorded = show_side(change, "before", 60).replace("|", "\\|")
            actual = show_side(change, "after", 60).replace("|", "\\|")
            lines.append(f"| `{item.address}` | `{change.path}` | `{recorded}` | `{actual}` |")
    return "\n".join(lines)
