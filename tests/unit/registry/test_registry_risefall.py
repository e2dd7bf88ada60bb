"""Rise/fall counting and the one-shot settle, with a fake clock: no server, no sleeping."""

import pytest

from infra.registry.risefall import Health, RiseFall, settle
from tests.support.fake_clock import FakeClock


def test_a_gate_decides_only_after_rise_passes_or_fall_failures_in_a_row():
    gate = RiseFall(rise=2, fall=3)
    assert gate.record(True) is None and gate.state is Health.unknown
    assert gate.record(False) is None and gate.record(True) is None  # a failure restarts the count of passes
    assert gate.record(True) is Health.up
    assert gate.record(True) is None  # still up: no second transition
    assert [gate.record(False) for _ in range(3)] == [None, None, Health.down]
    assert gate.record(False) is None and gate.state is Health.down
    assert gate.record(True) is None and gate.record(True) is Health.up


def test_one_failure_between_passes_never_pulls_an_up_service():
    gate = RiseFall(rise=1, fall=2)
    assert gate.record(True) is Health.up
    for _ in range(10):
        assert gate.record(False) is None
        assert gate.record(True) is None
    assert gate.state is Health.up


def test_a_gate_starts_undecided_so_a_restarted_agent_changes_nothing_until_the_checks_decide():
    gate = RiseFall(rise=3, fall=3)
    gate.record(False)
    gate.record(False)
    assert not gate.decided and gate.progress() == "2 of 3 failures"


def test_rise_and_fall_must_be_at_least_one():
    with pytest.raises(ValueError):
        RiseFall(rise=0, fall=1)


def results(*passes: bool):
    """A check that answers `passes` in turn, taking 0.1 s of the fake clock each."""
    answers = iter(passes)

    def check(clock: FakeClock):
        def run():
            clock.now += 0.1
            passed = next(answers)
            return passed, "HTTP 200" if passed else "HTTP 500"
        return run
    return check


def test_settle_checks_each_service_until_it_is_decided_at_the_interval():
    clock = FakeClock()
    verdicts = settle({"api": results(True, True)(clock), "cron": results(False, True, False, False, False)(clock)},
                      rise=2, fall=3, interval=1.0, clock=clock, sleep=clock.sleep)
    assert verdicts == {"api": (Health.up, "HTTP 200"), "cron": (Health.down, "HTTP 500")}
    # Rounds start one interval apart, whatever the checks took; api stops being checked once up.
    assert clock.sleeps == pytest.approx([0.8, 0.8, 0.9, 0.9])


def test_settle_says_how_far_it_got_every_ten_seconds():
    clock, lines = FakeClock(), []
    settle({"api": results(*[False] * 30)(clock)}, rise=2, fall=30, interval=1.0, clock=clock, sleep=clock.sleep,
           progress=lines.append)
    assert len(lines) == 2  # about 30 s of checks
    assert lines[0].startswith("still checking api (1") and "of 30 failures, last: HTTP 500)" in lines[0]
