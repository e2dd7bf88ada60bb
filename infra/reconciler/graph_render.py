"""Pictures of what waits for what: `infra graph` (Graphviz DOT or Mermaid) and the charts the
Markdown plan folds in (the order of its changes, each roll's steps on a time line). Pure.

An edge `a -> b` reads "b waits for a": an action's dependencies point at it, as the executor walks
them (a deletion's dependencies are what must go, or come up, before it). Nodes carry the action's
mark (`+`, `~`, `+/-`, `-`, `*`...) and a colour per kind of action, so a reviewer sees at a glance
that the ASG's roll waits for the AMI's build and the old ASG's deletion for the new one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from infra.config.fields import target_group_name
from infra.config.rollout import MANUAL
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph
from infra.reconciler.plan import Action, Plan
from infra.reconciler.rolls import RollShape, roll_of

# A Markdown plan draws its order only up to this many changes: past it GitHub renders a chart
# nobody can read (and Mermaid refuses one past its own limits).
MAX_CHART_ACTIONS = 100
# (fill, border) per kind of action, the colours of the text plan.
_COLOURS = {
    ActionKind.CREATE: ("#d4f7d4", "#1a7f37"), ActionKind.UPDATE: ("#fff3c4", "#9a6700"),
    ActionKind.REPLACE: ("#f5d9f7", "#8250df"), ActionKind.DELETE: ("#ffd8d3", "#cf222e"),
    ActionKind.BUILD: ("#d0f2f7", "#1b7c83"), ActionKind.ADOPT: ("#dbe9ff", "#0969da"),
    ActionKind.REFRESH: ("#dbe9ff", "#0969da"), ActionKind.PROMOTE: ("#d0f2f7", "#1b7c83"),
    ActionKind.NOOP: ("#f6f8fa", "#8c959f"),
}


@dataclass(frozen=True)
class Node:
    address: str
    action: ActionKind | None = None  # None: a desired resource, not planned

    @property
    def label(self) -> str:
        return self.address if self.action in (None, ActionKind.NOOP) else f"{self.action.mark} {self.address}"


@dataclass(frozen=True)
class Drawing:
    nodes: list[Node]
    edges: list[tuple[str, str]]  # (first, then): `then` waits for `first`


def of_plan(plan: Plan, *, changes_only: bool = False) -> Drawing:
    """The plan's actions and what waits for what. With `changes_only`, unchanged resources are
    left out and what waited through them waits for what they waited for."""
    actions = plan.changes if changes_only else plan.actions
    kept = {a.address for a in actions}
    waits = {a.address: a.depends_on for a in plan.actions}
    edges = [(first, action.address) for action in actions
             for first in _nearest(action.address, waits, kept)]
    return Drawing([Node(a.address, a.action) for a in actions], edges)


def of_desired(graph: Graph) -> Drawing:
    """What nodes.json wants and the edges between it, before anything is observed."""
    return Drawing([Node(r.address) for r in graph],
                   [(d, r.address) for r in graph for d in r.depends_on if d in graph])


def _nearest(address: str, waits: dict[str, list[str]], kept: set[str]) -> list[str]:
    """What `address` waits for among `kept`, directly or through what is left out."""
    found: dict[str, None] = {}
    seen: set[str] = set()
    stack = list(waits.get(address, ()))
    while stack:
        other = stack.pop()
        if other in seen:
            continue
        seen.add(other)
        if other in kept:
            found[other] = None
        else:
            stack.extend(waits.get(other, ()))
    return sorted(found)


def dot(drawing: Drawing) -> str:
    """Graphviz DOT: `dot -Tsvg` draws it."""
    lines = ["digraph infra {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled", fontname="monospace"];']
    for node in drawing.nodes:
        fill, border = _COLOURS.get(node.action or ActionKind.NOOP, _COLOURS[ActionKind.NOOP])
        style = ', style="rounded,filled,dashed"' if node.action is ActionKind.NOOP else ""
        lines.append(f'  {_quoted(node.address)} [label={_quoted(node.label)}, fillcolor="{fill}", '
                     f'color="{border}"{style}];')
    lines += [f"  {_quoted(first)} -> {_quoted(then)};" for first, then in drawing.edges]
    lines.append("}")
    return "\n".join(lines)


def mermaid(drawing: Drawing) -> str:
    """A Mermaid flowchart (GitHub renders it in Markdown)."""
    ident = {node.address: f"n{i}" for i, node in enumerate(drawing.nodes)}
    lines = ["flowchart LR"]
    lines += [f'  {ident[node.address]}["{_mermaid_text(node.label)}"]' for node in drawing.nodes]
    lines += [f"  {ident[first]} --> {ident[then]}" for first, then in drawing.edges
              if first in ident and then in ident]
    used = {node.action for node in drawing.nodes if node.action is not None}
    for kind in ActionKind:
        if kind in used:
            fill, border = _COLOURS[kind]
            members = ",".join(ident[n.address] for n in drawing.nodes if n.action is kind)
            lines += [f"  classDef {kind.name.lower()} fill:{fill},stroke:{border}",
                      f"  class {members} {kind.name.lower()}"]
    return "\n".join(lines)


def markdown_charts(plan: Plan) -> list[str]:
    """What the Markdown plan folds in: the order of its changes, and each roll on a time line."""
    changes = plan.changes
    if not changes or plan.refresh_only:  # state changes only: nothing waits for anything
        return []
    if len(changes) > MAX_CHART_ACTIONS:
        return ["", f"_The order of the {len(changes)} changes is not drawn (over {MAX_CHART_ACTIONS}): "
                    f"`infra graph` prints it._"]
    lines = ["", "<details><summary>Order of the changes</summary>", "",
             "```mermaid", mermaid(of_plan(plan, changes_only=True)), "```", ""]
    for action in changes:
        roll = roll_of(action)
        if roll is not None:
            lines += ["```mermaid", roll_timeline(action, roll), "```", ""]
    return lines + ["</details>"]


def roll_timeline(action: Action, roll: RollShape) -> str:
    """A roll's steps as a Mermaid timeline, each at the latest it can end (every health check
    taking its whole deadline): what a reviewer needs to know how long the group may be in a roll."""
    lines = ["timeline", f"  title {_timeline_text(action.address)} roll, each step at its longest"]
    periods: dict[str, list[str]] = {}
    for when, what in roll_steps(roll):  # steps that end together are one period of the time line
        periods.setdefault(when, []).append(_timeline_text(what))
    lines += [f"  {_timeline_text(when)} : " + " : ".join(events) for when, events in periods.items()]
    return "\n".join(lines)


def roll_steps(roll: RollShape) -> list[tuple[str, str]]:
    """(when, what) for each step of a roll, in the order the roll takes them (reconciler/rolls.py);
    after a manual pause, the times count from the promote."""
    groups = ", ".join(target_group_name(name) for name in roll.target_groups)
    where = f"healthy in {groups}" if groups else "InService and healthy"
    watching = f" watching {', '.join(roll.alarms)}" if roll.alarms else ""
    steps = [("0 s", f"new ASG starts {roll.first} of {roll.desired} nodes" + (" (canary)" if roll.canary else ""))]
    clock = _Clock()
    clock.elapsed = roll.healthy_deadline
    steps.append((clock.when(), f"{roll.needed(roll.first)} of them {where}, else rolled back"))
    size = roll.first
    for kind, value in roll.steps:
        if kind == "canary" and int(value) > size:
            size = int(value)
            clock.elapsed += roll.healthy_deadline
            steps.append((clock.when(), f"{size} of {roll.desired} nodes, {roll.needed(size)} {where}"))
        elif value == MANUAL:
            steps.append((clock.when(), "paused until infra rollout promote (or abort)"))
            clock.promoted()
        elif kind != "canary":
            clock.elapsed += int(value)
            done = {"bake": "baked", "pause": "paused", "analysis": "analysed"}[kind]
            steps.append((clock.when(), f"{done} {value} s{watching}, an alarm rolls back"))
    if size < roll.desired:
        clock.elapsed += roll.healthy_deadline
        steps.append((clock.when(), f"all {roll.desired} nodes started, {roll.needed(roll.desired)} {where}"))
    drained = f", old ASG drained from {groups}" if groups else ""
    steps.append((clock.when(), f"traffic on the new ASG{drained}"))
    clock.elapsed += roll.timeout
    if roll.keep_previous:
        steps.append((clock.when(), f"old ASG kept warm {roll.keep_previous} s more (fast rollback), then deleted"))
    else:
        steps.append((clock.when(), f"old ASG deleted, kept {roll.timeout} s"))
    return steps


class _Clock:
    """The latest a step can end: seconds from the start, or from the promote after a manual pause."""

    def __init__(self) -> None:
        self.elapsed, self.after_promote = 0, False

    def promoted(self) -> None:
        self.elapsed, self.after_promote = 0, True

    def when(self) -> str:
        return f"promote + {self.elapsed} s" if self.after_promote else f"by {self.elapsed} s"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mermaid_text(text: str) -> str:
    """Text inside a quoted Mermaid label: its quotes and angle brackets as Mermaid's entity codes."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def _timeline_text(text: str) -> str:
    """Text a Mermaid timeline reads as one period or event: no colon (its separator), no markup."""
    return re.sub(r"[^A-Za-z0-9 _.,%()/+-]", " ", text).strip()

