"""What a plan does to the monthly bill (reconciler/cost.py), and how the Markdown plan shows it.
Pure: plans made of actions, a price table made here; no server."""

from __future__ import annotations

import json

from infra.config.pricing import PriceFile, merged
from infra.reconciler.actions import ActionKind
from infra.reconciler.cost import estimate
from infra.reconciler.plan import Action, Plan
from infra.reconciler.plan_json import read_plan
from infra.reconciler.render import plan_json, plan_markdown
from tests.support.plan_schema import schema_errors

PRICES = merged([("test prices", PriceFile(date="2026-11-30", source="made up for tests", hourly={
    "us-east-1": {"m1.large": 0.175, "m3.large": 0.133, "t3.micro": 0.0104}}))])


def template(group: str, action: ActionKind, before: str | None, after: str | None) -> Action:
    return Action(address=f"launch_template.{group}", kind="launch_template", group=group, action=action,
                  before=None if before is None else {"region": "us-east-1", "instance_type": before},
                  after=None if after is None else {"region": "us-east-1", "instance_type": after})


def asg(group: str, action: ActionKind, before: int | None, after: int | None, **extra) -> Action:
    def side(desired):
        return None if desired is None else {"region": "us-east-1", "desired_capacity": desired,
                                             "healthy_deadline": 600, "timeout": 120, **extra}
    return Action(address=f"asg.{group}", kind="asg", group=group, action=action, before=side(before),
                  after=side(after))


def test_a_new_group_costs_its_desired_capacity_at_the_hourly_price_for_730_hours():
    cost = estimate([template("web", ActionKind.CREATE, None, "m1.large"), asg("web", ActionKind.CREATE, None, 2)],
                    PRICES)
    [item] = cost.items
    assert item.before is None and (item.after.count, item.after.instance_type) == (2, "m1.large")
    assert item.after.monthly == 255.5 and item.monthly_change == 255.5
    assert cost.groups == {"web": 255.5} and cost.monthly_change == 255.5 and cost.one_off == 0


def test_a_size_change_costs_the_difference_and_a_tag_change_nothing():
    cost = estimate([template("web", ActionKind.NOOP, "m1.large", "m1.large"), asg("web", ActionKind.UPDATE, 3, 1),
                     template("db", ActionKind.NOOP, "m3.large", "m3.large"), asg("db", ActionKind.UPDATE, 2, 2)],
                    PRICES)
    assert [item.address for item in cost.items] == ["asg.web"]  # the db ASG's update changes no node
    assert cost.monthly_change == -255.5


def test_a_roll_to_another_type_costs_the_new_type_and_counts_the_roll_once():
    cost = estimate([template("web", ActionKind.UPDATE, "m1.large", "m3.large"), asg("web", ActionKind.REPLACE, 2, 2)],
                    PRICES)
    [item] = cost.items
    assert (item.before.monthly, item.after.monthly, item.monthly_change) == (255.5, 194.18, -61.32)
    # Both ASGs run until the old one goes: at most healthy_deadline + timeout (720 s) of the new nodes.
    assert item.roll_seconds == 720 and item.one_off == round(2 * 0.133 * 0.2, 4)


def test_removing_a_group_saves_what_its_nodes_cost():
    cost = estimate([asg("web", ActionKind.DELETE, 2, None), template("web", ActionKind.DELETE, "m1.large", None)],
                    PRICES)
    assert cost.groups == {"web": -255.5}


def test_one_off_instances_cost_one_node_while_they_run():
    def instance(action, before_state=None, before="t3.micro", after="t3.micro"):
        return Action(address="instance.web.a", kind="instance", group="web", action=action,
                      before=None if before_state is None else {"region": "us-east-1", "instance_type": before,
                                                                "state": before_state},
                      after=None if action is ActionKind.DELETE else {"region": "us-east-1", "instance_type": after})

    assert estimate([instance(ActionKind.CREATE)], PRICES).monthly_change == 7.59
    assert estimate([instance(ActionKind.DELETE, "running")], PRICES).monthly_change == -7.59
    assert estimate([instance(ActionKind.DELETE, "stopped")], PRICES).items == []  # a stopped one costs nothing
    assert estimate([instance(ActionKind.UPDATE, "running")], PRICES).items == []  # its tags
    assert estimate([instance(ActionKind.REPLACE, "running", after="m1.large")], PRICES).monthly_change == 120.16


def test_adopting_changes_no_cost():
    adopted = asg("web", ActionKind.ADOPT, 2, 2)
    assert estimate([template("web", ActionKind.ADOPT, "m1.large", "m1.large"), adopted], PRICES).items == []


def test_a_type_without_a_price_is_named_and_never_guessed():
    cost = estimate([template("web", ActionKind.CREATE, None, "m9.huge"), asg("web", ActionKind.CREATE, None, 2),
                     template("db", ActionKind.CREATE, None, "m1.large"), asg("db", ActionKind.CREATE, None, 1)],
                    PRICES)
    assert cost.unpriced == ["m9.huge in us-east-1"]
    assert cost.groups == {"web": None, "db": 127.75} and cost.monthly_change == 127.75
    markdown = "\n".join(render(cost))
    assert "| `web` | none | 2 × m9.huge: no price | no price |" in markdown
    assert "No price for m9.huge in us-east-1: not in the total" in markdown


def test_no_nodes_cost_nothing_even_without_a_price():
    cost = estimate([template("web", ActionKind.CREATE, None, "m9.huge"), asg("web", ActionKind.CREATE, None, 0)],
                    PRICES)
    assert cost.items == [] and cost.unpriced == []


def render(cost) -> list[str]:
    the_plan = Plan(actions=[asg("x", ActionKind.CREATE, None, 0)], cost=cost)
    return plan_markdown(the_plan).splitlines()


def test_the_markdown_plan_shows_the_change_per_group_and_in_total_and_what_it_rests_on():
    actions = [template("web", ActionKind.UPDATE, "m1.large", "m3.large"), asg("web", ActionKind.REPLACE, 2, 2),
               asg("old", ActionKind.DELETE, 1, None), template("old", ActionKind.DELETE, "t3.micro", None)]
    markdown = plan_markdown(Plan(actions=actions, cost=estimate(actions, PRICES)))
    assert "**Monthly cost: -$68.91**" in markdown
    assert "| `web` | 2 × m1.large: $255.50 | 2 × m3.large: $194.18 | -$61.32 |" in markdown
    assert "| `old` | 1 × t3.micro: $7.59 | none | -$7.59 |" in markdown
    assert "| **total** | | | **-$68.91** |" in markdown
    assert "`asg.web` rolls: its new nodes run beside the old ones for up to 12 min" in markdown
    assert "Prices: test prices (2026-11-30: made up for tests)" in markdown
    assert markdown.index("Monthly cost") < markdown.index("<details>")


def test_a_plan_that_changes_no_node_says_so():
    actions = [template("web", ActionKind.UPDATE, "m1.large", "m1.large")]
    markdown = plan_markdown(Plan(actions=actions, cost=estimate(actions, PRICES)))
    assert "**Monthly cost: no change.**" in markdown


def test_the_json_plan_carries_the_estimate_and_reads_back():
    actions = [template("web", ActionKind.CREATE, None, "m1.large"), asg("web", ActionKind.CREATE, None, 2)]
    document = json.loads(plan_json(Plan(actions=actions, cost=estimate(actions, PRICES))))
    assert tuple(map(int, document["format_version"].split("."))) >= (2, 1)  # cost came with 2.1
    assert document["cost"]["monthly_change"] == 255.5 and document["cost"]["groups"] == {"web": 255.5}
    assert document["cost"]["prices"] == [{"file": "test prices", "date": "2026-11-30", "source": "made up for tests"}]
    assert not schema_errors(document)
    again = read_plan(json.dumps(document), "saved.plan")
    assert again.cost is not None and again.cost.monthly_change == 255.5
    assert json.loads(plan_json(Plan(actions=actions)))["cost"] is None


def test_a_plan_saved_as_format_2_0_without_an_estimate_still_reads():
    document = json.loads(plan_json(Plan(actions=[template("web", ActionKind.CREATE, None, "m1.large")])))
    del document["cost"]
    document["format_version"] = "2.0"
    assert read_plan(json.dumps(document), "old.plan").cost is None
