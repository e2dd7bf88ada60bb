"""A roll's phases as one state machine, against a fake fleet and a fake clock: no AWS, no sleeping.

The fake fleet answers from functions of the fake clock's time, so a test says "an alarm fires at
t=40" or "infra is stopped during the drain" and the machine meets it where a real roll would.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import pytest

from infra.errors import ProviderError
from infra.providers.aws.rollout import Health, Roll, RollFailed, Step, Waiter, poll_interval
from infra.reconciler.rolls import RollShape, canary_size
from tests.support.fake_clock import FakeClock

NEW, OLD = "web-b", "web-a"


class FakeFleet:
    """Four old instances serving web-tg; a new ASG whose health, alarms and draining come from
    functions of the clock's time."""

    def __init__(self, clock: FakeClock, *, healthy: Callable[[float, int], int] = lambda now, size: size,
                 old_healthy: Callable[[float, int], int] = lambda now, size: size,
                 firing: Callable[[float], list[str]] = lambda now: [],
                 draining: Callable[[float], list[str]] = lambda now: [], delay: float = 30,
                 target_groups: tuple[str, ...] = ("web-tg",), old: str | None = OLD) -> None:
        self.clock, self.healthy, self.old_healthy, self._firing = clock, healthy, old_healthy, firing
        self._draining, self.delay = draining, delay
        self.new, self.old, self.old_size, self.target_groups = NEW, old, 4, target_groups
        self.calls: list[tuple] = []
        self.attached = {OLD: True, NEW: False}
        self.scaled: Callable[[float], int] | None = None  # the new ASG's scaling, once it acts: its desired

    def launch(self, size: int) -> None:
        self.calls.append(("launch", size))
        self.attached[NEW] = bool(self.target_groups)

    def scale(self, size: int) -> None:
        self.calls.append(("scale", size))

    def health(self, asg: str, size: int) -> list[Health]:
        count = (self.healthy if asg == NEW else self.old_healthy)(self.clock.now, size)
        where = "healthy in web-tg" if self.target_groups else "instances InService and Healthy"
        sick = tuple(f"i-{asg[-1]}{n} in web-tg: unhealthy (Target.FailedHealthChecks)" for n in range(size - count))
        return [Health(count, size, where, sick)]

    def firing(self) -> list[str]:
        return self._firing(self.clock.now)

    def mark_holding(self) -> None:
        self.calls.append(("holding",))

    def mark_pending(self) -> None:
        self.calls.append(("pending",))

    def mark_paused(self, step: int) -> None:
        self.calls.append(("paused", step))

    def measure(self, metric, seconds: float, baseline: int) -> tuple[float | None, float | None]:
        return self.metrics.get(metric["name"], (None, None)) if hasattr(self, "metrics") else (None, None)

    def desired_now(self) -> int | None:
        return self.scaled(self.clock.now) if self.scaled else None

    def hand_over(self) -> None:
        self.calls.append(("hand over",))

    def hand_back(self, pausing: bool = False) -> None:
        self.calls.append(("hand back", "pausing") if pausing else ("hand back",))

    def detach_old(self) -> float:
        self.calls.append(("detach old",))
        self.attached[OLD] = False
        return self.delay

    def draining(self) -> list[str]:
        return self._draining(self.clock.now)

    def attach_old(self) -> None:
        self.calls.append(("attach old",))
        self.attached[OLD] = True

    def promote(self) -> None:
        self.calls.append(("promote",))

    def remove_new(self) -> None:
        self.calls.append(("remove new",))
        self.attached[NEW] = False

    @property
    def serving(self) -> set[str]:
        return {name for name, on in self.attached.items() if on}


def shape(**changes) -> RollShape:
    settings = dict(desired=4, first=1, bake=300, alarms=("web-5xx",), target_groups=("web-tg",),
                    min_healthy_percent=100, healthy_deadline=600, timeout=120)
    return RollShape(**{**settings, **changes})


def run(fleet: FakeFleet, roll_shape: RollShape, lines: list[tuple[float, str]] | None = None,
        stopped: Callable[[], bool] = lambda: False) -> list[tuple[float, str]]:
    """Run the roll; the progress lines it printed (into `lines`), with the fake time of each."""
    lines = [] if lines is None else lines
    clock = fleet.clock
    Roll(roll_shape, fleet, progress=lambda line: lines.append((clock.now, line)), clock=clock,
         sleep=clock.sleep, stopped=stopped, rest=clock.sleep).run()
    return lines


def silences(lines: list[tuple[float, str]]) -> list[float]:
    return [later - earlier for (earlier, _), (later, _) in pairwise(lines)]


# -- the shape of a roll, as the plan says it --------------------------------------------------


def test_the_plan_says_how_a_roll_goes():
    assert shape().summary() == ("canary 1 of 4, bake 300 s watching web-5xx; then 4; old ASG drained from web-tg, "
                                 "deleted after 120 s (healthy in web-tg within 600 s at each step, else rolled back)")
    plain = RollShape.of({"desired_capacity": 2, "timeout": 30, "healthy_deadline": 60})
    assert plain.summary() == ("2 at once; old ASG deleted after 30 s (InService and Healthy within 60 s at each "
                               "step, else rolled back)")
    arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-tg/73e2d6bc24d8a067"
    partial = RollShape.of({"desired_capacity": 10, "timeout": 0, "target_groups": ["web-tg", arn],
                            "rollout": {"canary": "25%", "min_healthy_percent": 90, "alarms": ["a", "b"]}})
    assert partial.summary().startswith("canary 3 of 10, watching a, b; then 10; old ASG drained from web-tg, "
                                        "api-tg, deleted after 0 s (90% healthy in web-tg, api-tg")


@pytest.mark.parametrize("canary, desired, first", [(None, 4, 4), (1, 4, 1), ("25%", 4, 1), ("10%", 4, 1),
                                                    ("50%", 5, 3), (9, 4, 4), ("100%", 4, 4), (1, 0, 0)])
def test_a_canary_is_a_count_or_a_share_of_desired_rounded_up(canary, desired, first):
    assert canary_size(canary, desired) == first


def test_min_healthy_percent_rounds_up_and_needs_one():
    assert [shape(min_healthy_percent=p).needed(4) for p in (100, 90, 75, 1)] == [4, 4, 3, 1]
    assert shape().needed(0) == 0


def test_poll_interval_follows_the_phase_within_bounds():
    assert (poll_interval(1), poll_interval(60), poll_interval(3600)) == (0.1, 3, 5)


# -- a roll that goes through -------------------------------------------------------------------


def test_a_canary_and_bake_roll_moves_traffic_to_the_new_asg_and_never_leaves_it_empty():
    clock = FakeClock()
    fleet = FakeFleet(clock, draining=lambda now: ["2 in web-tg"] if now < 320 else [])
    served: list[set[str]] = []
    clock_sleep = clock.sleep
    clock.sleep = lambda seconds: (served.append(fleet.serving), clock_sleep(seconds))  # type: ignore
    lines = run(fleet, shape())
    assert fleet.calls == [("launch", 1), ("scale", 4), ("holding",), ("hand over",), ("detach old",), ("promote",)]
    assert all(served) and served[0] == {OLD, NEW} and served[-1] == {NEW}
    texts = [text for _, text in lines]
    assert texts[0] == "web-b: 1/1 healthy in web-tg"
    assert "web-b: bake 0/300 s watching web-5xx; 1/1 healthy in web-tg" in texts
    assert any(t.startswith("web-b: bake 120/300 s") for t in texts)
    assert "web-b: canary passed; scaling to 4" in texts and "web-b: 4/4 healthy in web-tg" in texts
    assert "detached web-a from web-tg; web-b serves alone" in texts
    assert any(t.startswith("web-a: draining 2 in web-tg; 30 s left") for t in texts)
    assert "web-a: drained from web-tg" in texts and "keeping web-a for 99s so other nodes notice web-b" in texts
    assert clock.now == pytest.approx(300 + 120)  # the bake, then the timeout from the detach (the drain in it)
    assert max(silences(lines)) <= 10 + 1e-9


def test_without_rollout_or_target_groups_a_roll_is_what_it_always_was():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: 0 if now < 20 else size, target_groups=())
    lines = run(fleet, shape(first=2, desired=2, bake=0, alarms=(), target_groups=(), timeout=30))
    assert fleet.calls == [("launch", 2), ("holding",), ("hand over",), ("promote",)]
    texts = [text for _, text in lines]
    assert texts[0] == "web-b: 0/2 instances InService and Healthy; waiting, 600 s left"
    assert "web-b: 2/2 instances InService and Healthy" in texts
    assert "keeping web-a for 30s so other nodes notice web-b" in texts
    assert clock.now == pytest.approx(20 + 30)


def test_min_healthy_percent_lets_a_roll_go_on_with_one_instance_short():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: max(1, size - 1))
    lines = run(fleet, shape(min_healthy_percent=75, bake=0))
    assert ("promote",) in fleet.calls
    assert "web-b: 3/4 healthy in web-tg (3 needed)" in [text for _, text in lines]


def test_a_drain_past_the_deregistration_delay_goes_on_and_says_so():
    clock = FakeClock()
    fleet = FakeFleet(clock, draining=lambda now: ["1 in web-tg"], delay=30)
    lines = run(fleet, shape(bake=0, timeout=0))
    assert fleet.calls[-1] == ("promote",)
    assert "web-a: still draining after 30s (the deregistration delay); going on" in [t for _, t in lines]


def test_a_first_asg_has_nothing_to_detach_or_promote():
    clock = FakeClock()
    fleet = FakeFleet(clock, old=None)
    run(fleet, shape(first=4, bake=0, alarms=()))
    assert fleet.calls == [("launch", 4)]


# -- the gates ----------------------------------------------------------------------------------


def test_an_alarm_during_the_bake_rolls_back_and_names_it():
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx (Threshold Crossed)"] if now >= 40 else [])
    with pytest.raises(RollFailed) as failed:
        run(fleet, shape())
    assert str(failed.value) == ("alarm web-5xx (Threshold Crossed) is in ALARM during the bake: rolled back, "
                                 "deleted web-b and kept web-a (4 instance(s), attached to web-tg)")
    assert fleet.calls == [("launch", 1), ("remove new",)] and fleet.serving == {OLD}
    assert 40 <= clock.now <= 40 + poll_interval(300)


def test_an_alarm_firing_before_the_roll_changes_nothing():
    fleet = FakeFleet(FakeClock(), firing=lambda now: ["web-5xx"])
    with pytest.raises(RollFailed, match="alarm web-5xx is in ALARM before the roll started; nothing was changed"):
        run(fleet, shape())
    assert fleet.calls == []


def test_an_unhealthy_target_past_the_deadline_rolls_back_naming_the_target_group_and_instance():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: size - 1)
    lines: list[tuple[float, str]] = []
    with pytest.raises(RollFailed) as failed:
        run(fleet, shape(first=2, healthy_deadline=60), lines)
    assert str(failed.value) == ("web-b did not become healthy within 60s (1/2 healthy in web-tg): i-b0 in web-tg: "
                                 "unhealthy (Target.FailedHealthChecks): rolled back, deleted web-b and kept web-a "
                                 "(4 instance(s), attached to web-tg)")
    assert clock.now == pytest.approx(60) and fleet.calls == [("launch", 2), ("remove new",)]
    assert max(silences(lines)) <= 10 + 1e-9


def test_a_new_instance_turning_unhealthy_during_the_bake_rolls_back():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: 0 if now >= 100 else size)
    with pytest.raises(RollFailed, match=r"^web-b became unhealthy during the bake \(0/1 healthy in web-tg\): "
                                         r"i-b0 in web-tg: unhealthy .*: rolled back, deleted web-b"):
        run(fleet, shape())


def test_an_alarm_after_the_old_asg_was_detached_attaches_it_again_before_the_new_one_goes():
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx"] if now >= 350 else [])
    lines: list[tuple[float, str]] = []
    with pytest.raises(RollFailed, match="alarm web-5xx is in ALARM during the hold: rolled back, deleted web-b"):
        run(fleet, shape(), lines)
    assert fleet.calls[-5:] == [("detach old",), ("pending",), ("attach old",), ("hand back",), ("remove new",)]
    assert fleet.serving == {OLD}
    assert "rolling back: attached web-a to web-tg again" in [t for _, t in lines]


def test_a_rollback_once_the_new_asg_was_marked_the_groups_unmarks_it_first():
    """Killed while rolling back, infra's next plan must keep the old ASG, not the one being undone."""
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx"] if now >= 350 else [])
    with pytest.raises(RollFailed, match="during the hold: rolled back"):
        run(fleet, shape())
    assert fleet.calls[fleet.calls.index(("holding",)):] == [
        ("holding",), ("hand over",), ("detach old",), ("pending",), ("attach old",), ("hand back",),
        ("remove new",)]


def test_a_scale_in_by_the_new_asgs_own_scaling_during_the_hold_is_not_an_instance_short():
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: 2 if now >= 400 else size)  # two of four left at 400 s
    fleet.scaled = lambda now: 2 if now >= 400 else 4  # target tracking scaled the new ASG in
    run(fleet, shape())
    assert fleet.calls[-1] == ("promote",) and fleet.serving == {NEW}


def test_a_detach_that_fails_half_way_still_attaches_the_old_asg_again():
    clock = FakeClock()
    fleet = FakeFleet(clock)

    def detached_then_failed() -> float:
        fleet.calls.append(("detach old",))
        fleet.attached[OLD] = False
        raise ProviderError("describe target group attributes: AccessDenied")

    fleet.detach_old = detached_then_failed  # type: ignore[method-assign]
    with pytest.raises(RollFailed, match="AccessDenied: rolled back, deleted web-b and kept web-a"):
        run(fleet, shape())
    assert fleet.serving == {OLD} and ("attach old",) in fleet.calls


def test_scaling_given_back_to_the_old_asg_failing_leaves_the_rollback_going_and_says_so():
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx"] if now >= 350 else [])

    def refused() -> None:
        raise ProviderError("resume the scaling of web-a: AccessDenied")

    fleet.hand_back = refused  # type: ignore[method-assign]
    lines: list[tuple[float, str]] = []
    with pytest.raises(RollFailed, match="during the hold: rolled back, deleted web-b and kept web-a"):
        run(fleet, shape(), lines)
    assert fleet.calls[-1] == ("remove new",) and fleet.serving == {OLD}
    assert ("rolling back: resume the scaling of web-a: AccessDenied; web-a serves, but its scaling stays "
            "suspended") in [line for _, line in lines]


def test_the_new_asg_stays_when_the_old_one_does_not_serve_again():
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx"] if now >= 350 else [],
                      old_healthy=lambda now, size: 0 if now >= 340 else size)
    with pytest.raises(RollFailed, match=r"rolling back failed, both ASGs kept \(web-b still attached\): web-a is "
                                         r"not healthy again within 600s"):
        run(fleet, shape())
    assert ("remove new",) not in fleet.calls and fleet.serving == {OLD, NEW}


def test_attaching_the_old_asg_again_failing_keeps_both_and_names_why_the_roll_was_undone():
    clock = FakeClock()
    fleet = FakeFleet(clock, firing=lambda now: ["web-5xx"] if now >= 350 else [])

    def refused() -> None:
        raise ProviderError("attach web-a to its target groups again: Throttling")

    fleet.attach_old = refused  # type: ignore[method-assign]
    with pytest.raises(RollFailed, match=r"alarm web-5xx is in ALARM during the hold; rolling back failed, both ASGs "
                                         r"kept \(web-b still attached\): attach web-a to its target groups again"):
        run(fleet, shape())
    assert ("remove new",) not in fleet.calls and fleet.serving == {NEW}


def test_a_first_asg_that_never_gets_healthy_is_kept():
    clock = FakeClock()
    fleet = FakeFleet(clock, old=None, healthy=lambda now, size: 0)
    with pytest.raises(RollFailed, match=r"^web-b did not become healthy within 600s \(0/4 healthy in web-tg\)"):
        run(fleet, shape(first=4, bake=0, alarms=()))
    assert fleet.calls == [("launch", 4)]


# -- stopped: Ctrl-C or SIGTERM ------------------------------------------------------------------


@pytest.mark.parametrize("at, phase", [(0, "the canary"), (100, "the bake"), (305, "full size"),
                                       (310, "the drain"), (400, "the hold")])
def test_a_roll_stopped_in_any_phase_leaves_the_old_asg_serving_and_removes_the_new_one(at, phase):
    clock = FakeClock()
    fleet = FakeFleet(clock, healthy=lambda now, size: size if now >= (302 if size == 4 else 0) else 0,
                      draining=lambda now: ["4 in web-tg"] if now < 315 else [])
    with pytest.raises(RollFailed, match=f"^infra was stopped \\(Ctrl-C or SIGTERM\\) during {phase}: rolled back, "
                                         f"deleted web-b and kept web-a"):
        run(fleet, shape(), stopped=lambda: clock.now >= at)
    assert fleet.calls[-1] == ("remove new",) and fleet.serving == {OLD}
    assert ("promote",) not in fleet.calls


# -- the waiter ------------------------------------------------------------------------------


def test_the_waiter_says_what_changes_at_once_and_something_every_10_seconds():
    clock = FakeClock()
    lines: list[tuple[float, str]] = []
    waiter = Waiter(lambda line: lines.append((clock.now, line)), clock, clock.sleep)
    state = {"value": "a"}

    def step(elapsed: float, left: float) -> Step:
        if elapsed >= 50:
            state["value"] = "b"
        return Step(f"{state['value']} ({left:.0f} s left)", key=state["value"])

    waiter.wait("a test", 100, step)
    assert lines[0] == (0, "a (100 s left)") and (50, "b (50 s left)") in lines
    assert max(silences(lines)) <= 10 + 1e-9 and len(lines) <= 100 / 10 + 3


def test_the_waiter_fails_at_its_deadline_when_told_to():
    clock = FakeClock()
    waiter = Waiter(lambda line: None, clock, clock.sleep)
    with pytest.raises(RollFailed, match="late"):
        waiter.wait("a test", 5, lambda elapsed, left: Step("waiting"), lambda last: "late")
    assert clock.now == pytest.approx(5)
