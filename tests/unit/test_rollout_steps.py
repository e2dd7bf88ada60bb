"""Rollout steps in the one roll state machine, against the fake fleet and clock: canaries that grow,
bakes and timed pauses that watch, and a manual pause that stops the roll for another process to
promote (go on) or abort (go back)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from infra.config import parse_config
from infra.errors import ConfigError
from infra.providers.aws.rollout import Paused, Roll, RollFailed
from infra.reconciler.rolls import RollShape, paused_words, steps_changed, steps_digest
from tests.support.fake_clock import FakeClock
from tests.unit.test_fleet_rollout import NEW, OLD, FakeFleet, run, shape

STEPS = (("canary", 1), ("bake", 60), ("canary", 2), ("pause", 30))
MANUAL = (("canary", 1), ("pause", "manual"), ("canary", 2), ("bake", 10))


def stepped(steps: tuple, **changes) -> RollShape:
    return shape(steps=steps, listed=True, **changes)


def machine(fleet: FakeFleet, roll_shape: RollShape, lines: list[tuple[float, str]],
            stopped: Callable[[], bool] = lambda: False) -> Roll:
    """A Roll as a new process would make it: nothing of an earlier one but the fleet."""
    clock = fleet.clock
    return Roll(roll_shape, fleet, progress=lambda line: lines.append((clock.now, line)), clock=clock,
                sleep=clock.sleep, rest=clock.sleep, stopped=stopped)


def test_steps_grow_the_canary_bake_and_pause_in_order_then_take_over():
    fleet = FakeFleet(FakeClock())
    texts = [text for _, text in run(fleet, stepped(STEPS))]
    assert fleet.calls == [("launch", 1), ("scale", 2), ("scale", 4), ("holding",), ("hand over",), ("detach old",),
                           ("promote",)]
    order = ["web-b: bake 0/60 s watching web-5xx; 1/1 healthy in web-tg", "web-b: step 3/4: canary 2 of 4",
             "web-b: 2/2 healthy in web-tg", "web-b: pause 0/30 s watching web-5xx; 2/2 healthy in web-tg",
             "web-b: canary passed; scaling to 4"]
    assert [texts.index(line) for line in order] == sorted(texts.index(line) for line in order), texts


def test_an_alarm_during_a_timed_pause_rolls_back_naming_the_pause():
    fleet = FakeFleet(FakeClock(), firing=lambda now: ["web-5xx (Threshold Crossed)"] if now >= 40 else [])
    with pytest.raises(RollFailed, match="alarm web-5xx .* is in ALARM during the pause: rolled back, deleted web-b"):
        run(fleet, stepped((("canary", 1), ("pause", 30), ("canary", 2), ("pause", 30))))
    assert fleet.calls[-1] == ("remove new",) and fleet.serving == {OLD}


def test_a_manual_pause_stops_the_roll_with_both_asgs_serving_and_records_where():
    fleet = FakeFleet(FakeClock())
    lines: list[tuple[float, str]] = []
    with pytest.raises(Paused) as paused:
        machine(fleet, stepped(MANUAL), lines).run()
    assert paused.value.step == 1
    assert str(paused.value) == "web-b: paused at step 2/4 with 1 of 4 instance(s), beside web-a"
    assert fleet.calls == [("launch", 1), ("paused", 1)] and fleet.serving == {OLD, NEW}


def test_a_new_process_promotes_the_paused_roll_from_the_step_after_the_pause():
    clock = FakeClock()
    fleet = FakeFleet(clock)
    lines: list[tuple[float, str]] = []
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL), lines).run()
    clock.now += 86_400  # a day later, another machine
    fleet.calls.clear()
    machine(fleet, stepped(MANUAL), lines).resume(1)
    assert fleet.calls == [("scale", 2), ("scale", 4), ("holding",), ("hand over",), ("detach old",), ("promote",)]
    assert "web-b: step 3/4: canary 2 of 4" in [text for _, text in lines]


@pytest.mark.parametrize("at, phase, step, tail", [
    (0, "the pause", 1, [("paused", 1)]),  # before anything moved: the pause it was promoted from
    (5, "the bake", 2, [("scale", 2), ("paused", 2)]),  # the canary grew to 2 (step 3): it stays, paused after it
    (50, "the hold", 3, [("detach old",), ("attach old",), ("hand back", "pausing"), ("paused", 3)]),
])
def test_a_promote_stopped_pauses_the_roll_again_after_the_last_step_done_instead_of_rolling_back(
        at, phase, step, tail):
    """Ctrl-C or SIGTERM while a promoted roll goes on: the approved canary is kept, both ASGs serve (the
    old one attached again when the take-over had detached it), and a new process goes on from there."""
    clock = FakeClock()
    fleet = FakeFleet(clock)
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL), []).run()
    fleet.calls.clear()
    lines: list[tuple[float, str]] = []
    with pytest.raises(Paused) as again:
        machine(fleet, stepped(MANUAL), lines, stopped=lambda: clock.now >= at).resume(1)
    assert again.value.stopped and again.value.step == step
    assert str(again.value).startswith(f"web-b: infra was stopped (Ctrl-C or SIGTERM) during {phase}: paused again "
                                       f"after step {step + 1}/4, ")
    assert fleet.calls[-len(tail):] == tail, fleet.calls
    assert ("remove new",) not in fleet.calls and fleet.serving == {OLD, NEW}
    fleet.calls.clear()
    machine(fleet, stepped(MANUAL), []).resume(again.value.step)  # infra rollout promote, again
    assert fleet.calls[-1] == ("promote",) and fleet.serving == {NEW}


def test_a_promote_stopped_in_the_hold_whose_old_asg_cannot_be_attached_again_keeps_the_new_one_serving():
    """Neither paused nor rolled back: the new ASG serves alone, still marked the group's, so the next
    apply finishes the roll instead of deleting the only ASG that serves."""
    from infra.errors import ProviderError

    clock = FakeClock()
    fleet = FakeFleet(clock)
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL), []).run()

    def refused() -> None:
        raise ProviderError("attach web-a to its target groups again: AccessDenied")

    fleet.attach_old = refused  # type: ignore[method-assign]
    with pytest.raises(RollFailed, match=r"^infra was stopped \(Ctrl-C or SIGTERM\) during the hold; attaching web-a "
                                         r"again failed, web-b serves alone \(marked the group's; apply again to "
                                         r"finish the roll\): attach web-a .*AccessDenied$"):
        machine(fleet, stepped(MANUAL), [], stopped=lambda: clock.now >= 50).resume(1)
    assert fleet.serving == {NEW} and fleet.calls[-1] == ("detach old",)


def test_a_roll_not_yet_paused_that_is_stopped_still_rolls_back():
    clock = FakeClock()
    fleet = FakeFleet(clock)
    with pytest.raises(RollFailed, match=r"^infra was stopped \(Ctrl-C or SIGTERM\) during the canary: rolled back"):
        machine(fleet, stepped(STEPS), [], stopped=lambda: clock.now >= 0).run()
    assert fleet.calls[-1] == ("remove new",) and fleet.serving == {OLD}


def test_a_promote_while_an_alarm_fires_rolls_back_instead():
    clock = FakeClock()
    fleet = FakeFleet(clock)
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL), []).run()
    fleet._firing = lambda now: ["web-5xx (5xx above 1)"]
    with pytest.raises(RollFailed, match=r"alarm web-5xx \(5xx above 1\) is in ALARM during the pause: rolled back, "
                                         r"deleted web-b and kept web-a \(4 instance\(s\), attached to web-tg\)"):
        machine(fleet, stepped(MANUAL), []).resume(1)
    assert fleet.calls[-1] == ("remove new",) and fleet.serving == {OLD}


def test_a_canary_that_turned_unhealthy_while_paused_is_rolled_back_on_promote():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: size if now < 1000 else 0)
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL, healthy_deadline=60), []).run()
    clock.now = 2000
    with pytest.raises(RollFailed, match="web-b did not become healthy within 60s .*: i-b0 in web-tg"):
        machine(fleet, stepped(MANUAL, healthy_deadline=60), []).resume(1)
    assert fleet.serving == {OLD}


def test_abort_at_the_pause_removes_the_new_asg_and_leaves_the_old_one_as_it_served():
    fleet = FakeFleet(FakeClock())
    with pytest.raises(Paused):
        machine(fleet, stepped(MANUAL), []).run()
    with pytest.raises(RollFailed, match="^infra rollout abort web: rolled back, deleted web-b and kept web-a"):
        machine(fleet, stepped(MANUAL), []).abort("infra rollout abort web")
    assert fleet.calls[-1] == ("remove new",) and ("attach old",) not in fleet.calls and fleet.serving == {OLD}


# -- the steps as nodes.json writes them, and as a plan says them -----------------------------


def rollout_of(rollout: dict, desired: int = 4) -> RollShape:
    return RollShape.of({"desired_capacity": desired, "timeout": 120, "healthy_deadline": 600,
                         "target_groups": ["web-tg"], "rollout": rollout})


def test_steps_resolve_shares_and_the_short_form_is_two_steps():
    listed = rollout_of({"steps": [{"canary": "25%"}, {"pause": "manual"}, {"canary": "50%"}, {"bake": 60}]})
    assert listed.steps == (("canary", 1), ("pause", "manual"), ("canary", 2), ("bake", 60))
    assert (listed.first, listed.size_after(1), listed.size_after(2), listed.pauses) == (1, 1, 2, True)
    assert listed.summary() == ("steps 1. canary 1 of 4, 2. pause until infra rollout promote, 3. canary 2 of 4, "
                                "4. bake 60 s; then 4; old ASG drained from web-tg, deleted after 120 s (healthy in "
                                "web-tg within 600 s at each step, else rolled back)")
    assert rollout_of({"canary": 1, "bake": 30}).steps == (("canary", 1), ("bake", 30))
    assert rollout_of({"alarms": ["a"]}).steps == ()


def nodes(rollout: dict) -> str:
    return json.dumps({"__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077"},
                       "web": {"autoscale": {"node_min": 4, "node_max": 4, "rollout": rollout}}}, indent=2)


@pytest.mark.parametrize("rollout, said", [
    ({"steps": [{"canary": 1, "bake": 2}]}, "key 'autoscale.rollout.steps.0': a step is one of"),
    ({"steps": [{"pause": "forever"}]}, "key 'autoscale.rollout.steps.0.pause': should be seconds (1 to 86400) or "
                                        "\"manual\", got \"forever\""),
    ({"steps": [{"canary": "250%"}]}, "'250%' is not a share of the desired capacity"),
    ({"steps": [{"bak": 60}]}, "unknown key 'autoscale.rollout.steps.0.bak'; did you mean 'bake'?"),
    ({"steps": []}, "key 'autoscale.rollout.steps'"),
    ({"canary": 1, "steps": [{"bake": 1}]}, "give either steps or canary and bake (their short form), not both"),
])
def test_a_bad_step_is_one_located_line(rollout, said):
    with pytest.raises(ConfigError) as caught:
        parse_config(nodes(rollout), "nodes.json")
    assert said in str(caught.value) and str(caught.value).startswith("nodes.json:"), str(caught.value)


WRITTEN = {"steps": [{"canary": "25%"}, {"pause": "manual"}, {"canary": "50%"}, {"bake": 60}], "alarms": ["a"]}


def paused_after(step: int, rollout: dict = WRITTEN) -> dict:
    """A roll paused after `step` (from 0), as the new ASG's tags record it."""
    return {"state": "paused", "asg": "web-b", "step": step, "since": "2026-12-08T01:00:00Z", "instances": 1,
            "steps": steps_digest(rollout, step)}


def test_steps_edited_after_the_pause_do_not_hold_a_promote_back_those_before_it_do():
    later = {**WRITTEN, "steps": [{"canary": "25%"}, {"pause": "manual"}, {"bake": 300}], "alarms": ["a", "b"]}
    assert steps_changed("web", paused_after(1), later) == ""  # not run yet: promote runs them as they are now
    assert steps_changed("web", paused_after(1), {"canary": "25%", "bake": 60}) != ""  # the pause is gone
    inserted = {"steps": [{"canary": "25%"}, {"bake": 60}, {"pause": "manual"}, {"canary": "50%"}, {"bake": 60}]}
    said = steps_changed("web", paused_after(1), inserted)
    assert said == ('rollout.steps 1-2 of web changed since its roll ran them and paused after step 2 (nodes.json has '
                    'now: 1. {"canary": "25%"}, 2. {"bake": 60}), so a promote would go on from the wrong step; put '
                    'them back as they were to promote, or go back with: infra rollout abort web')
    removed = {"steps": [{"pause": "manual"}, {"canary": "50%"}]}
    assert "rollout.steps 1-2 of web changed" in steps_changed("web", paused_after(1), removed)
    assert steps_changed("web", paused_after(1), {**inserted, "steps": WRITTEN["steps"]}) == ""  # put back
    assert steps_changed("web", {**paused_after(1), "steps": ""}, inserted) == ""  # paused before infra recorded it


def test_a_pause_whose_steps_changed_says_so_where_plan_and_status_say_where_it_stands():
    attributes = {"desired_capacity": 4, "rollout": {"steps": [{"bake": 5}, *WRITTEN["steps"]]}}
    said = paused_words("web", paused_after(1), attributes, "web-a")
    assert said.startswith("roll paused at step 2 of 5 since 2026-12-08T01:00:00Z: web-b runs 1 of 4 instance(s) "
                           "beside web-a, which serves at full size; but rollout.steps 1-2 of web changed"), said
    assert said.endswith("or go back with: infra rollout abort web") and "promote web" not in said
    same = paused_words("web", paused_after(1), {"desired_capacity": 4, "rollout": WRITTEN}, "web-a")
    assert "(pause until infra rollout promote)" in same and same.endswith(
        "go on with: infra rollout promote web; go back with: infra rollout abort web")


def test_keep_previous_and_a_rollback_to_the_kept_asg_say_so_in_the_plan():
    from infra.reconciler.actions import ActionKind
    from infra.reconciler.plan import Action
    from infra.reconciler.rolls import roll_of

    kept = rollout_of({"canary": 1, "keep_previous": 3600})
    assert "old ASG drained from web-tg, kept warm out of them for 3600 s after 120 s (infra rollback brings it " \
           "back in seconds), then deleted" in kept.summary()
    after = {"desired_capacity": 4, "timeout": 120, "healthy_deadline": 600, "target_groups": ["web-tg"],
             "rollout": {"canary": 1}, "launch_template_id": "lt-1", "launch_template_version": "1",
             "rolled_back_from": "2"}
    before = {"launch_template_id": "lt-1", "launch_template_version": "2", "kept_previous": {
        "asg": "web-a", "desired_capacity": 4, "launch_template_id": "lt-1", "launch_template_version": "1"}}
    action = Action(address="asg.web", kind="asg", group="web", action=ActionKind.REPLACE, before=before, after=after)
    shape = roll_of(action)
    assert shape is not None and shape.summary().startswith("attach web-a (kept warm, 4 instance(s)) to web-tg again")
    elsewhere = Action(**{**action.model_dump(), "after": {**after, "launch_template_version": "3"}})
    assert roll_of(elsewhere).summary().startswith("canary 1 of 4")  # not what the kept ASG runs: a roll


# -- analysis -------------------------------------------------------------------------------------

RATE = {"name": "5xx rate", "metric": "HTTPCode_Target_5XX_Count", "per": "RequestCount", "statistic": "Sum",
        "max": 0.05, "max_increase": 0.5}


def test_a_metric_is_judged_against_its_max_and_the_window_before_the_roll():
    from infra.reconciler.analysis import judge

    assert judge(RATE, 0.01, 0.008, seconds=60).passed
    above = judge(RATE, 0.2, 0.01, seconds=60)
    assert not above.passed and above.line == ("5xx rate (Sum of HTTPCode_Target_5XX_Count per RequestCount) was 0.2 "
                                               "over the last 60 s, above its max 0.05")
    worse = judge(RATE, 0.04, 0.02, seconds=60)
    assert not worse.passed and worse.line.endswith("was 0.04 over the last 60 s, more than 0.02 before the roll "
                                                    "plus 50% (0.03)")
    assert judge(RATE, 0.04, None, seconds=60).line.endswith("(no data before the roll to compare with); passed")
    quiet = judge(RATE, None, 0.01, seconds=60)
    assert quiet.passed and quiet.line.endswith("no data over the last 60 s; passed (missing_data: pass)")
    assert not judge(RATE, None, 0.01, seconds=60, missing_data="fail").passed


def test_an_analysis_step_that_fails_rolls_back_naming_the_metric_and_its_values():
    fleet = FakeFleet(FakeClock())
    fleet.metrics = {"5xx rate": (0.2, 0.01)}
    lines: list[tuple[float, str]] = []
    with pytest.raises(RollFailed, match=r"^analysis failed after the analysis: 5xx rate \(Sum of "
                                         r"HTTPCode_Target_5XX_Count per RequestCount\) was 0.2 over the last 120 s, "
                                         r"above its max 0.05: rolled back, deleted web-b"):
        machine(fleet, stepped((("canary", 1), ("analysis", 120)), analysis=(RATE,)), lines).run()
    assert fleet.serving == {OLD}


def test_a_passing_analysis_goes_on_and_a_bake_is_judged_too():
    fleet = FakeFleet(FakeClock())
    fleet.metrics = {"5xx rate": (0.01, 0.01)}
    texts = [text for _, text in run(fleet, stepped((("canary", 1), ("bake", 30)), analysis=(RATE,)))]
    assert ("web-b: analysis: 5xx rate (Sum of HTTPCode_Target_5XX_Count per RequestCount) was 0.01 over the last "
            "30 s (0.01 before the roll); passed") in texts
    assert fleet.calls[-1] == ("promote",)


def test_an_analysis_step_needs_metrics_to_judge():
    with pytest.raises(ConfigError) as caught:
        parse_config(nodes({"steps": [{"canary": 1}, {"analysis": 60}]}), "nodes.json")
    assert "an analysis step judges rollout.analysis's metrics, and there are none" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        parse_config(nodes({"analysis": {"metrics": [{"name": "x", "metric": "Latency"}]}}), "nodes.json")
    assert "metric 'x' has neither max nor max_increase" in str(caught.value)
