"""A blue/green roll as one state machine: its phases, deadlines, gates, progress and rollback.

    launch ─► healthy ─► steps ─► full size, healthy ─► hold: old detached, drained, kept ─► promote
                 │         │  ▲         │                          │
                 │   manual pause: Paused (the process may end; resume() goes on, abort() goes back)
                 └─────────┴────────────┴──── a gate fails, or infra is stopped ──► roll back
                           └─ resumed, then stopped (Ctrl-C, SIGTERM) ──► Paused again after the last step done

The steps (canary N: grow and wait until healthy; bake or pause for seconds: watch; pause manual:
stop) are `RollShape.steps`, in order; the new ASG launches with the first canary's size.

Pure: the AWS calls are behind `Fleet` (blue_green.py implements it with boto3) and time behind
`clock` and `sleep`, so tests drive every phase with a fake clock and never sleep. The steps are
those `RollShape` (reconciler/rolls.py) describes in a plan. The gates: an alarm in ALARM (checked
in every phase until the old ASG is gone), new instances not healthy by `healthy_deadline` (in
every target group, or InService and Healthy without any), new instances turning unhealthy later,
and Ctrl-C or SIGTERM. A roll going on after a manual pause (resume, infra rollout promote) that is
stopped is not undone: the canary was approved, so it pauses again after the last step done, both
ASGs serving (the old one attached again first, once it had been detached), as a pause is in Argo
Rollouts, where an interrupted client changes nothing. Rolling back leaves the old ASG attached
and serving (attached again and healthy first, when it had been detached, as Spinnaker's rollback
enables the old server group before it disables the new one), then removes the new one. Scaling
(policies, scheduled actions) moves with the traffic: the new ASG's acts from the moment it takes
over, the old one's stops then, and acts again if the roll is undone after that.

Waiting (deadlines, progress lines at least every 10 s, Ctrl-C) is waiting.py's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from infra.config.rollout import MANUAL
from infra.errors import InfraError
from infra.providers.aws.waiting import (  # noqa: F401  (Step, poll_interval: the roll's vocabulary too)
    Interrupted,
    RollFailed,
    Step,
    Waiter,
    keep_while_healthy,
    poll_interval,
)
from infra.providers.base import Progress
from infra.reconciler.analysis import judge
from infra.reconciler.rolls import RollShape, target_group_name


class Paused(Exception):
    """The roll reached a manual pause: it stops here, both ASGs serving, until promoted or aborted."""

    def __init__(self, step: int, message: str, *, stopped: bool = False) -> None:
        super().__init__(message)
        self.step = step
        self.stopped = stopped  # paused again because infra was stopped, not at a manual pause


@dataclass(frozen=True)
class Health:
    """What one source (a target group, or the ASG itself) says of an ASG's instances."""

    healthy: int
    size: int  # instances asked for
    where: str  # "healthy in web-tg", "instances InService and Healthy"
    unhealthy: tuple[str, ...] = ()  # the others, with why: "i-0ab1 in web-tg: unhealthy (Target.Timeout)"

    def said(self, needed: int) -> str:
        extra = f" ({needed} needed)" if needed < self.size else ""
        return f"{self.healthy}/{self.size} {self.where}{extra}"


class Fleet(Protocol):
    """The AWS side of one roll: a new ASG (`new`) beside the group's old one (`old`, None for a first one)."""

    new: str
    old: str | None
    old_size: int
    target_groups: tuple[str, ...]

    def launch(self, size: int) -> None: """Create the new ASG with `size` instances, attached."""
    def scale(self, size: int) -> None: """Give the new ASG `size` instances."""
    def health(self, asg: str, size: int) -> list[Health]: """One per target group (or one for the ASG)."""
    def firing(self) -> list[str]: """The watched alarms in ALARM, with their reasons."""
    def mark_holding(self) -> None: """The new ASG is the group's from now on, should infra die."""
    def mark_pending(self) -> None: """The new ASG is not the group's (rolling back), should infra die."""
    def mark_paused(self, step: int) -> None: """The roll stops at step `step` (from 0) until promoted."""
    def measure(self, metric: Mapping[str, Any], seconds: float, baseline: int) -> tuple[float | None, float | None]:
        """The metric over the last `seconds`, and over the `baseline` seconds before the roll began."""
    def desired_now(self) -> int | None: """The new ASG's desired capacity when its scaling sets it; else None."""
    def hand_over(self) -> None: """The new ASG's scaling acts from now on, the old one's no longer."""
    def hand_back(self, pausing: bool = False) -> None:
        """The old ASG's scaling acts again (rolling back after hand_over); `pausing`: the new one's waits
        again, the roll paused beside the old one."""
    def detach_old(self) -> float: """Detach the old ASG; its longest deregistration delay, seconds."""
    def draining(self) -> list[str]: """Where the old instances still drain: "2 in web-tg"."""
    def attach_old(self) -> None: """Attach the old ASG again (rolling back)."""
    def promote(self) -> None: """The roll is done: the new ASG stays, the old one goes."""
    def remove_new(self) -> None: """Detach and delete the new ASG (rolling back)."""


class Roll:
    """One roll of `fleet` the way `shape` says; `run()` returns once it is done, or raises RollFailed."""

    def __init__(self, shape: RollShape, fleet: Fleet, *, progress: Progress,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep,
                 stopped: Callable[[], bool] = lambda: False, rest: Callable[[float], object] | None = None) -> None:
        self.shape, self.fleet, self.progress = shape, fleet, progress
        self.waiter = Waiter(progress, clock, sleep, stopped)
        # Rolling back is not stopped by a second interrupt: it must leave the old ASG serving.
        self.undo = Waiter(progress, clock, rest or sleep)
        self.detached = self.handed_over = self.holding = False
        self.phase = "the launch"
        self.size = shape.first  # the new ASG's instances now
        self.reached: int | None = None  # resumed: the last step done, where a stop pauses the roll again

    def run(self) -> None:
        """Launch the new ASG and walk every step; Paused at a manual pause (nothing rolled back)."""
        shape, fleet = self.shape, self.fleet
        firing = fleet.firing() if shape.alarms else []
        if firing:
            raise RollFailed(f"alarm {firing[0]} is in ALARM before the roll started; nothing was changed")
        fleet.launch(shape.first)

        def steps() -> None:
            self._healthy(shape.first, "the canary" if shape.canary else "the launch")
            self._walk(0)

        self._go(steps)

    def resume(self, paused_at: int) -> None:
        """Go on after the manual pause at step `paused_at` (infra rollout promote, from any process):
        the alarms and the new instances are checked first, then the steps after it."""
        self.size = self.shape.size_after(paused_at)
        self.phase = "the pause"
        self.reached = paused_at

        def steps() -> None:
            self._alarms()
            self._healthy(self.size, "the pause")
            self._walk(paused_at + 1)

        self._go(steps)

    def abort(self, why: str) -> NoReturn:
        """Undo a paused roll (infra rollout abort, or an alarm firing while it waits): the old ASG,
        which never stopped serving at full size, stays; the new one goes. Raises RollFailed saying so."""
        self.phase = "the pause"
        self._roll_back(RollFailed(why))

    def _go(self, steps: Callable[[], object]) -> None:
        """Walk `steps` then take over; any failure rolls back, and so does a stop, unless the roll was
        resumed (then it pauses again). Paused passes through: nothing to undo."""
        try:
            steps()
            self._take_over()
        except (RollFailed, Interrupted, InfraError) as failure:
            # A stop may reach a call to AWS first (its wait for AWS to catch up ends): the same stop.
            if self.reached is not None and (isinstance(failure, Interrupted) or self.waiter.stopped()):
                self._pause_again()
            self._roll_back(failure)
        if self.fleet.old is not None:
            self.fleet.promote()

    def _walk(self, start: int) -> None:
        """The steps from `start` on: grow the canary, bake, pause (for seconds, or until promoted)."""
        shape = self.shape
        for index in range(start, len(shape.steps)):
            kind, value = shape.steps[index]
            if kind == "canary" and int(value) > self.size:
                self.phase = "the canary"
                self.fleet.scale(int(value))
                self.size = int(value)
                self.progress(f"{self.fleet.new}: step {index + 1}/{len(shape.steps)}: canary {value} of "
                              f"{shape.desired}")
                self._healthy(self.size, "the canary")
            elif kind != "canary" and value == MANUAL:
                self._pause(index)
            elif kind != "canary":
                self._bake(int(value), {"bake": "the bake", "pause": "the pause"}.get(kind, "the analysis"))
                self._analyse(int(value))
            if self.reached is not None:
                self.reached = index

    def _pause(self, index: int) -> NoReturn:
        """Stop at a manual pause: the gates are checked once more, the pause is recorded, and the
        process may end (a pause is data, as in Argo Rollouts: any process reading it goes on)."""
        self.phase = "the pause"
        self._still_healthy(self.size)
        self.fleet.mark_paused(index)
        raise Paused(index, f"{self.fleet.new}: paused at step {index + 1}/{len(self.shape.steps)} with "
                            f"{self.size} of {self.shape.desired} instance(s), beside {self.fleet.old}")

    def _take_over(self) -> None:
        """Full size, then the new ASG takes the traffic; the old one drains and is kept for `timeout`."""
        shape, fleet = self.shape, self.fleet
        if self.size < shape.desired:
            self.phase = "the scale-up"
            fleet.scale(shape.desired)
            self.size = shape.desired
            self.progress(f"{fleet.new}: canary passed; scaling to {shape.desired}")
            self._healthy(shape.desired, "full size")
        if fleet.old is None:
            return
        fleet.mark_holding()
        self.holding = True
        fleet.hand_over()
        self.handed_over = True
        started = self.waiter.clock()
        if fleet.target_groups:
            self.phase = "the drain"
            self.detached = True  # before: should detaching fail half way, the rollback attaches it again
            delay = fleet.detach_old()
            self.progress(f"detached {fleet.old} from {_names(fleet.target_groups)}; {fleet.new} serves alone")
            self._drain(delay)
        left = shape.timeout - (self.waiter.clock() - started)
        if left > 0:
            self._hold(left)

    # -- the phases --------------------------------------------------------------------------

    def _healthy(self, size: int, phase: str) -> None:
        """Wait until enough of the new ASG's `size` instances are healthy everywhere."""
        self.phase = phase
        needed, new = self.shape.needed(size), self.fleet.new

        def step(elapsed: float, left: float) -> Step:
            self._alarms()
            health = self.fleet.health(new, size)
            said = ", ".join(h.said(needed) for h in health)
            if all(h.healthy >= needed for h in health):
                return Step(f"{new}: {said}", done=True)
            return Step(f"{new}: {said}; waiting, {left:.0f} s left", key=said)

        def timed_out(last: Step) -> str:
            why = self._unhealthy(self.fleet.health(new, size), needed)
            return (f"{new} did not become healthy within {self.shape.healthy_deadline:g}s "
                    f"({last.key}){': ' + why if why else ''}")

        self.waiter.wait(phase, self.shape.healthy_deadline, step, timed_out)

    def _bake(self, seconds: int, phase: str = "the bake") -> None:
        """Watch the new instances and the alarms for `seconds` (a bake, or a pause of seconds)."""
        self.phase = phase
        new, word = self.fleet.new, phase.removeprefix("the ")
        watching = f" watching {', '.join(self.shape.alarms)}" if self.shape.alarms else ""

        def step(elapsed: float, left: float) -> Step:
            said = self._still_healthy(self.size)
            return Step(f"{new}: {word} {elapsed:.0f}/{seconds} s{watching}; {said}", key=said)

        self.waiter.wait(self.phase, seconds, step)

    def _analyse(self, seconds: int) -> None:
        """Judge rollout.analysis's metrics over the wait that just ended (reconciler/analysis.py): one
        out of bounds fails the roll, naming the metric and its values."""
        for metric in self.shape.analysis:
            value, before = self.fleet.measure(metric, seconds, self.shape.baseline)
            verdict = judge(metric, value, before, seconds=seconds, missing_data=self.shape.missing_data)
            if not verdict.passed:
                raise RollFailed(f"analysis failed after {self.phase}: {verdict.line}")
            self.progress(f"{self.fleet.new}: analysis: {verdict.line}")

    def _drain(self, delay: float) -> None:
        old = self.fleet.old

        def step(elapsed: float, left: float) -> Step:
            self._still_healthy(self._serving_size())
            where = self.fleet.draining()
            if not where:
                return Step(f"{old}: drained from {_names(self.fleet.target_groups)}", done=True)
            return Step(f"{old}: draining {', '.join(where)}; {left:.0f} s left", key=", ".join(where))

        last = self.waiter.wait(self.phase, delay, step)
        if not last.done:
            self.progress(f"{old}: still draining after {delay:g}s (the deregistration delay); going on")

    def _hold(self, seconds: float) -> None:
        self.phase = "the hold"
        keep_while_healthy(self.waiter, self.fleet.new, self.fleet.old or "", seconds,
                           lambda: self._still_healthy(self._serving_size()))

    def _serving_size(self) -> int:
        """How many new instances there should be once the new ASG serves: its scaling acts from the
        hand-over on, and a scale-in then is not an instance short (it would roll back a healthy roll)."""
        moved = self.fleet.desired_now() if self.handed_over else None
        return self.shape.desired if moved is None else moved

    # -- the gates ---------------------------------------------------------------------------

    def _alarms(self) -> None:
        firing = self.fleet.firing() if self.shape.alarms else []
        if firing:
            raise RollFailed(f"alarm {firing[0]} is in ALARM during {self.phase}")

    def _still_healthy(self, size: int) -> str:
        """The alarms are quiet and enough new instances stay healthy; what the health is, in words."""
        self._alarms()
        needed = self.shape.needed(size)
        health = self.fleet.health(self.fleet.new, size)
        said = ", ".join(h.said(needed) for h in health)
        if any(h.healthy < needed for h in health):
            why = self._unhealthy(health, needed)
            raise RollFailed(f"{self.fleet.new} became unhealthy during {self.phase} ({said})"
                             + (f": {why}" if why else ""))
        return said

    @staticmethod
    def _unhealthy(health: list[Health], needed: int) -> str:
        """The instances that keep a roll from going on, named with their target group: a few, counted beyond."""
        named = [item for h in health if h.healthy < needed for item in h.unhealthy]
        return "; ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")

    # -- rolling back ------------------------------------------------------------------------

    def _roll_back(self, failure: Exception) -> NoReturn:
        fleet = self.fleet
        why = f"infra was stopped (Ctrl-C or SIGTERM) during {self.phase}" if isinstance(failure, Interrupted) \
            else str(failure)
        if fleet.old is None:
            raise RollFailed(why)
        if self.holding:
            self._unmark_holding()
        if self.detached:
            try:
                fleet.attach_old()
                self.progress(f"rolling back: attached {fleet.old} to {_names(fleet.target_groups)} again")
                self._old_healthy(fleet.old)
            except (RollFailed, InfraError) as stuck:
                raise RollFailed(f"{why}; rolling back failed, both ASGs kept ({fleet.new} still attached): "
                                 f"{stuck}") from None
        if self.handed_over:
            self._hand_back()
        fleet.remove_new()
        where = f", attached to {_names(fleet.target_groups)}" if fleet.target_groups else ""
        raise RollFailed(f"{why}: rolled back, deleted {fleet.new} and kept {fleet.old} "
                         f"({fleet.old_size} instance(s){where})")

    def _pause_again(self) -> NoReturn:
        """Stopped (Ctrl-C, SIGTERM) while a resumed roll went on: back to where it is safe to leave it,
        a pause after the last step done, not a rollback (someone approved the canary). Both ASGs serve:
        the old one, detached by the take-over, is attached again and healthy first, and takes its
        scaling back. `infra rollout promote` goes on from the next step; `abort` goes back."""
        fleet, step = self.fleet, int(self.reached or 0)
        stopped = f"infra was stopped (Ctrl-C or SIGTERM) during {self.phase}"
        if self.detached:
            try:
                fleet.attach_old()
            except InfraError as stuck:
                raise RollFailed(f"{stopped}; attaching {fleet.old} again failed, {fleet.new} serves alone (marked "
                                 f"the group's; apply again to finish the roll): {stuck}") from None
            self.progress(f"pausing again: attached {fleet.old} to {_names(fleet.target_groups)} again")
            try:
                self._old_healthy(fleet.old or "", "pausing again")
            except (RollFailed, InfraError) as stuck:
                raise RollFailed(f"{stopped}; {fleet.old} is attached again but not healthy, {fleet.new} serves "
                                 f"beside it (marked the group's; apply again to finish the roll): {stuck}") from None
        if self.handed_over:
            self._hand_back(pausing=True)
        try:
            fleet.mark_paused(step)
        except InfraError as stuck:  # the new ASG is still tagged as a roll under way: the next plan deletes it
            raise RollFailed(f"{stopped}; recording the pause on {fleet.new} failed, so the roll cannot be promoted: "
                             f"both ASGs serve, and the next apply keeps {fleet.old} and deletes {fleet.new} "
                             f"({stuck})") from None
        raise Paused(step, f"{fleet.new}: {stopped}: paused again after step {step + 1}/{len(self.shape.steps)}, "
                           f"{self.size} of {self.shape.desired} instance(s) beside {fleet.old}, which serves at "
                           f"full size", stopped=True)

    def _unmark_holding(self) -> None:
        """The new ASG is no longer the group's: should infra die while rolling back, the next plan keeps
        the old one (it would take a holding ASG for the group's). Should that fail, the rollback goes on."""
        try:
            self.fleet.mark_pending()
        except InfraError as stuck:
            self.progress(f"rolling back: {stuck}; {self.fleet.new} is still marked as the group's")

    def _hand_back(self, pausing: bool = False) -> None:
        """The old ASG serves again: its scaling acts again. Should that fail, the rollback (or the
        pause) goes on (the old ASG serves at its size, only without scaling) and says so."""
        try:
            self.fleet.hand_back(pausing=True) if pausing else self.fleet.hand_back()
        except InfraError as stuck:
            doing = "pausing again" if pausing else "rolling back"
            self.progress(f"{doing}: {stuck}; {self.fleet.old} serves, but its scaling stays suspended")

    def _old_healthy(self, old: str, doing: str = "the rollback") -> None:
        """The old ASG serves again before the new one goes: the target groups are never left empty."""
        size = self.fleet.old_size
        needed = self.shape.needed(size)

        def step(elapsed: float, left: float) -> Step:
            health = self.fleet.health(old, size)
            said = ", ".join(h.said(needed) for h in health)
            done = all(h.healthy >= needed for h in health)
            return Step(f"{old}: {said}" + ("" if done else f"; waiting, {left:.0f} s left"), key=said, done=done)

        self.undo.wait(doing, self.shape.healthy_deadline, step,
                       lambda last: f"{old} is not healthy again within {self.shape.healthy_deadline:g}s ({last.key})")


def _names(target_groups: tuple[str, ...]) -> str:
    return ", ".join(target_group_name(name) for name in target_groups)
