"""What `infra graph` and the Markdown plan draw: the plan's actions, what waits for what, each roll's
steps on a time line; checked by reading the Mermaid back line by line. Pure: no server."""

from __future__ import annotations

import re

from infra.reconciler.actions import ActionKind
from infra.reconciler.graph_render import MAX_CHART_ACTIONS, markdown_charts, mermaid, of_plan, roll_steps
from infra.reconciler.plan import Action, Plan
from infra.reconciler.render import plan_markdown
from infra.reconciler.rolls import roll_of

ROLLED = {"desired_capacity": 4, "launch_template_version": "2", "timeout": 120, "healthy_deadline": 600,
          "target_groups": ["web-tg"], "rollout": {"canary": 1, "bake": 300, "alarms": ["web-5xx"]}}


def act(address: str, kind: ActionKind, *depends: str, after: dict | None = None) -> Action:
    kind_name, group = address.split(".")[:2]
    return Action(address=address, kind=kind_name, group=group, action=kind, depends_on=list(depends),
                  after=after if after is not None else {}, before={"desired_capacity": 4} if after else None)


def a_roll() -> Plan:
    """A changed template: the AMI builds, the launch template takes a new version, the ASG rolls; the
    renamed group's old ASG goes once the new one is up."""
    return Plan(actions=[
        act("role.web", ActionKind.NOOP),
        act("packer_template.web", ActionKind.UPDATE),
        act("ami.web", ActionKind.BUILD, "packer_template.web", "role.web"),
        act("dna.web", ActionKind.NOOP),
        act("launch_template.web", ActionKind.UPDATE, "ami.web", "dna.web"),
        act("asg.web", ActionKind.REPLACE, "launch_template.web", after=ROLLED),
        act("asg.old", ActionKind.DELETE, "asg.web"),
    ])


def read_flowchart(text: str) -> tuple[dict[str, str], list[tuple[str, str]], dict[str, str]]:
    """(label by node id, edges, class by node id) of a Mermaid flowchart; every line must be one of those."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    labels: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    classes: dict[str, str] = {}
    for line in lines[1:]:
        if node := re.fullmatch(r'  (n\d+)\["([^"]+)"\]', line):
            labels[node[1]] = node[2]
        elif edge := re.fullmatch(r"  (n\d+) --> (n\d+)", line):
            edges.append((edge[1], edge[2]))
        elif member := re.fullmatch(r"  class ((?:n\d+,)*n\d+) (\w+)", line):
            classes.update(dict.fromkeys(member[1].split(","), member[2]))
        else:
            assert re.fullmatch(r"  classDef \w+ fill:#[0-9a-f]{6},stroke:#[0-9a-f]{6}", line), line
    assert {n for edge in edges for n in edge} <= set(labels), "an edge to an undeclared node"
    return labels, edges, classes


def named(labels: dict[str, str], edges: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(labels[a], labels[b]) for a, b in edges}


def test_the_plan_graph_marks_each_action_and_draws_what_waits_for_what():
    labels, edges, classes = read_flowchart(mermaid(of_plan(a_roll())))
    assert sorted(labels.values()) == ["* ami.web", "+/- asg.web", "- asg.old", "dna.web", "role.web",
                                       "~ launch_template.web", "~ packer_template.web"]
    assert named(labels, edges) == {
        ("~ packer_template.web", "* ami.web"), ("role.web", "* ami.web"), ("* ami.web", "~ launch_template.web"),
        ("dna.web", "~ launch_template.web"), ("~ launch_template.web", "+/- asg.web"), ("+/- asg.web", "- asg.old")}
    by_label = {labels[n]: kind for n, kind in classes.items()}
    assert by_label["+/- asg.web"] == "replace" and by_label["dna.web"] == "noop" and by_label["* ami.web"] == "build"


def test_changes_only_leaves_unchanged_resources_out_and_keeps_what_waited_through_them():
    plan = Plan(actions=[act("role.web", ActionKind.UPDATE), act("ami.web", ActionKind.NOOP, "role.web"),
                         act("launch_template.web", ActionKind.UPDATE, "ami.web")])
    labels, edges, _ = read_flowchart(mermaid(of_plan(plan, changes_only=True)))
    assert named(labels, edges) == {("~ role.web", "~ launch_template.web")}


def test_the_markdown_plan_folds_in_the_order_and_the_rolls_time_line():
    markdown = plan_markdown(a_roll())
    charts = re.findall(r"```mermaid\n(.*?)\n```", markdown, re.S)
    assert len(charts) == 2
    labels, edges, _ = read_flowchart(charts[0])
    assert "dna.web" not in labels.values()  # unchanged: left out of the pull request's chart
    assert ("* ami.web", "~ launch_template.web") in named(labels, edges)
    timeline = charts[1].splitlines()
    assert timeline[:2] == ["timeline", "  title asg.web roll, each step at its longest"]
    periods = []
    for line in timeline[2:]:
        match = re.fullmatch(r"  ([^:]+) : ([^:]+(?: : [^:]+)*)", line)
        assert match, line
        periods.append((match[1], match[2].split(" : ")))
    assert periods == [
        ("0 s", ["new ASG starts 1 of 4 nodes (canary)"]),
        ("by 600 s", ["1 of them healthy in web-tg, else rolled back"]),
        ("by 900 s", ["baked 300 s watching web-5xx, an alarm rolls back"]),
        ("by 1500 s", ["all 4 nodes started, 4 healthy in web-tg",
                       "traffic on the new ASG, old ASG drained from web-tg"]),
        ("by 1620 s", ["old ASG deleted, kept 120 s"])]
    assert markdown.index("<summary>Order of the changes</summary>") < markdown.index("Attribute changes")


def test_a_roll_without_canary_or_bake_has_fewer_steps():
    shape = roll_of(act("asg.web", ActionKind.REPLACE, after={**ROLLED, "rollout": None, "target_groups": []}))
    assert shape is not None
    assert roll_steps(shape) == [("0 s", "new ASG starts 4 of 4 nodes"),
                                 ("by 600 s", "4 of them InService and healthy, else rolled back"),
                                 ("by 600 s", "traffic on the new ASG"), ("by 720 s", "old ASG deleted, kept 120 s")]


def test_a_big_plan_is_not_drawn_but_says_where_to_see_it():
    big = Plan(actions=[act(f"role.g{i}", ActionKind.CREATE) for i in range(MAX_CHART_ACTIONS + 1)])
    assert markdown_charts(big) == ["", f"_The order of the {MAX_CHART_ACTIONS + 1} changes is not drawn (over "
                                        f"{MAX_CHART_ACTIONS}): `infra graph` prints it._"]
    assert "```mermaid" not in plan_markdown(big)
    assert markdown_charts(Plan(actions=[act("role.web", ActionKind.NOOP)])) == []
    assert markdown_charts(Plan(actions=[act("role.web", ActionKind.REFRESH)], refresh_only=True)) == []


def test_labels_cannot_break_out_of_their_quotes():
    plan = Plan(actions=[act("role.web", ActionKind.REFRESH)])
    labels, _, _ = read_flowchart(mermaid(of_plan(plan)))
    assert list(labels.values()) == ["#lt;= role.web"]


def test_a_roll_with_steps_draws_each_and_counts_from_the_promote_after_a_manual_pause():
    rollout = {"steps": [{"canary": 1}, {"pause": "manual"}, {"canary": 2}, {"analysis": 60}], "keep_previous": 900}
    shape = roll_of(act("asg.web", ActionKind.REPLACE, after={**ROLLED, "rollout": rollout}))
    assert shape is not None
    assert roll_steps(shape) == [
        ("0 s", "new ASG starts 1 of 4 nodes (canary)"), ("by 600 s", "1 of them healthy in web-tg, else rolled back"),
        ("by 600 s", "paused until infra rollout promote (or abort)"),
        ("promote + 600 s", "2 of 4 nodes, 2 healthy in web-tg"),
        ("promote + 660 s", "analysed 60 s, an alarm rolls back"),
        ("promote + 1260 s", "all 4 nodes started, 4 healthy in web-tg"),
        ("promote + 1260 s", "traffic on the new ASG, old ASG drained from web-tg"),
        ("promote + 1380 s", "old ASG kept warm 900 s more (fast rollback), then deleted")]
