"""Eventual consistency: each "not yet" answer is retried, for a bounded time, and said; on stub
clients and a fake clock (nothing sleeps)."""

from __future__ import annotations

from typing import Any

import botocore.exceptions
import pytest

from infra.aws.consistency import NOT_YET, TIMEOUT_ENV, NotVisible, Patience, not_yet, timeout_from, until_visible
from infra.errors import InfraError, ProviderError
from tests.support.fake_clock import FakeClock


def error(code: str, message: str = "", operation: str = "Call") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, operation)


class Flaky:
    """A call that fails with `failure` the first `times` times, then answers `result`."""

    def __init__(self, failure: Exception, times: int, result: Any = "done") -> None:
        self.failure, self.times, self.result, self.calls = failure, times, result, 0

    def __call__(self) -> Any:
        self.calls += 1
        if self.calls <= self.times:
            raise self.failure
        return self.result


def patience(clock: FakeClock, timeout: float = 120) -> Patience:
    return Patience(timeout=timeout, clock=clock, sleep=clock.sleep)


NOT_FOUND = error("InvalidInstanceID.NotFound", "The instance ID 'i-0abc' does not exist")


def test_a_call_answered_not_yet_is_repeated_until_it_succeeds_and_the_wait_is_said():
    clock, said = FakeClock(), []
    call = Flaky(NOT_FOUND, times=4)
    assert until_visible(call, what="instance i-0abc to show", service="ec2", patience=patience(clock),
                         progress=said.append) == "done"
    assert call.calls == 5
    assert said == ["waiting for instance i-0abc to show (AWS is eventually consistent: InvalidInstanceID.NotFound: "
                    "The instance ID 'i-0abc' does not exist); 0s of 120s"]
    assert 0 < clock.now < 8


def test_the_backoff_grows_with_jitter_up_to_its_cap():
    clock = FakeClock()
    call = Flaky(NOT_FOUND, times=12)
    until_visible(call, what="x", service="ec2", patience=patience(clock))
    first, cap = clock.sleeps[0], clock.sleeps[-1]
    assert 0.125 <= first <= 0.25 and 4 <= cap <= 8
    assert all(seconds <= 8 for seconds in clock.sleeps)


def test_a_long_wait_says_what_it_waits_for_at_least_every_ten_seconds():
    clock, said, at = FakeClock(), [], []
    call = Flaky(NOT_FOUND, times=20)

    def progress(line: str) -> None:
        said.append(line)
        at.append(clock.now)

    until_visible(call, what="instance i-0abc to show", service="ec2", patience=patience(clock), progress=progress)
    assert clock.now > 60
    points = [*at, clock.now]
    gaps = [b - a for a, b in zip(points, points[1:])]  # noqa: B905
    assert all(gap <= 10 + 8 for gap in gaps)  # a line, then the next once 10 s passed (at the next retry)
    assert len(said) >= clock.now // 18
    assert all(line.startswith("waiting for instance i-0abc to show") for line in said)


def test_the_wait_is_bounded_and_ends_in_one_line_naming_what_never_showed():
    clock = FakeClock()
    call = Flaky(NOT_FOUND, times=10**6)
    with pytest.raises(NotVisible) as raised:
        until_visible(call, what="instance i-0abc to show", service="ec2", patience=patience(clock, timeout=30))
    assert 30 <= clock.now <= 30 + 1e-6  # the last sleep is cut to the time left
    message = str(raised.value)
    assert "\n" not in message and isinstance(raised.value, ProviderError)
    assert message.startswith("waited 30s for instance i-0abc to show, AWS still says InvalidInstanceID.NotFound")
    assert "__settings__.consistency_timeout" in message and TIMEOUT_ENV in message


def test_any_other_error_is_raised_at_once():
    clock = FakeClock()
    call = Flaky(error("InvalidParameterValue", "Value (m9.huge) for parameter instanceType is invalid."), times=1)
    with pytest.raises(botocore.exceptions.ClientError):
        until_visible(call, what="x", service="ec2", patience=patience(clock))
    assert call.calls == 1 and clock.now == 0


def test_a_wait_ends_at_once_when_infra_is_stopped():
    clock = FakeClock()
    waits = patience(clock)
    call = Flaky(NOT_FOUND, times=10**6)
    waits.sleep = lambda seconds: waits.interrupt()  # SIGTERM during the first pause
    with pytest.raises(NotVisible, match=r"infra was stopped \(Ctrl-C or SIGTERM\) while waiting for x "):
        until_visible(call, what="x", service="ec2", patience=waits)
    assert call.calls == 2


def test_ctrl_c_or_sigterm_wakes_the_real_sleep_and_ends_the_wait():
    from infra import stopping

    stopping.request_stop()  # what the CLI's signal handlers do
    try:
        waits = Patience(timeout=600)
        waits.pause(600)  # returns at once
        call = Flaky(NOT_FOUND, times=10**6)
        with pytest.raises(NotVisible, match=r"infra was stopped \(Ctrl-C or SIGTERM\) while waiting for x"):
            until_visible(call, what="x", service="ec2", patience=waits)
        assert call.calls == 1
    finally:
        stopping.reset()


def test_the_real_sleep_wakes_on_an_interrupt():
    waits = Patience(timeout=600)
    waits.interrupt()
    waits.pause(600)  # returns at once: it waits on the event an interrupt sets


@pytest.mark.parametrize(("service", "code", "message"), [
    ("ec2", "InvalidInstanceID.NotFound", "The instance ID 'i-1' does not exist"),
    ("ec2", "InvalidAMIID.NotFound", "The image id '[ami-1]' does not exist"),
    ("ec2", "InvalidSnapshot.NotFound", "The snapshot 'snap-1' does not exist."),
    ("ec2", "InvalidKeyPair.NotFound", "The key pair 'ops' does not exist"),
    ("ec2", "InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID lt-1, does not exist"),
    ("ec2", "InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version 2"),
    ("ec2", "InvalidParameterValue", "Value (web) for parameter iamInstanceProfile.name is invalid. Invalid IAM "
                                     "Instance Profile name"),
    ("autoscaling", "ValidationError", "You must use a valid fully-formed launch template. The specified launch "
                                       "template, with template ID lt-1, does not exist."),
    ("autoscaling", "ValidationError", "Invalid IamInstanceProfile: web"),
    ("autoscaling", "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances"),
    ("autoscaling", "ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling "
                                                 "activities in progress for that group."),
    ("elbv2", "InvalidTarget", "The following targets are not in a running state"),
])
def test_each_not_yet_answer_of_the_table_is_recognised(service, code, message):
    assert not_yet(service, error(code, message))
    assert any(entry.code == code for entry in NOT_YET[service])


@pytest.mark.parametrize(("service", "code", "message"), [
    ("autoscaling", "ValidationError", "Max bound, 1, must be greater than or equal to min bound, 2"),
    ("autoscaling", "ValidationError", "AutoScalingGroup name not found - no such group: web-1"),  # gone: final
    ("autoscaling", "ValidationError", "You must use a valid fully-formed launch template. The requested "
                                       "configuration is currently not supported. Please check the documentation"),
    ("ec2", "InvalidParameterValue", "Value (m9.huge) for parameter instanceType is invalid."),
    ("ec2", "UnauthorizedOperation", "You are not authorized to perform this operation."),
    ("autoscaling", "InvalidInstanceID.NotFound", "another service's code is not this one's"),
])
def test_other_answers_are_final(service, code, message):
    assert not not_yet(service, error(code, message))


def test_the_timeout_comes_from_the_settings_then_the_environment_then_the_default(monkeypatch):
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert timeout_from(None) == 120
    monkeypatch.setenv(TIMEOUT_ENV, "30")
    assert timeout_from(None) == 30
    assert timeout_from(45) == 45
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(InfraError, match=f"{TIMEOUT_ENV}='soon': give the seconds"):
        timeout_from(None)
