import sys

import pytest

from infra.errors import RegistryError
from infra.registry.health import CheckPolicy, HealthCheck, parse_checks

SERVICES = ["api-workers", "cronq-workers"]


def test_a_plain_check_covers_every_service_a_named_one_only_its_own():
    checks = parse_checks(["http://127.0.0.1:8080/status", "cronq-workers=pgrep -x cronq"], SERVICES, "bee")
    assert checks == {"api-workers": HealthCheck("http://127.0.0.1:8080/status"),
                      "cronq-workers": HealthCheck("pgrep -x cronq")}
    assert checks["api-workers"].is_http and not checks["cronq-workers"].is_http
    only = parse_checks(["api-workers=https://127.0.0.1/status?a=b"], SERVICES, "bee")
    assert list(only) == ["api-workers"]  # cronq-workers has no check: it is not gated
    assert parse_checks([], SERVICES, "bee") == {}


@pytest.mark.parametrize("specs, message", [
    (["web=http://127.0.0.1/status"], "group 'bee' runs no service 'web' (it runs api-workers, cronq-workers)"),
    (["http://a/status", "http://b/status"], "a check for every service is given twice"),
    (["api-workers=true", "api-workers=false"], "service 'api-workers' has a check already"),
    (["http:///status"], "is not a URL like http://127.0.0.1:8080/status"),
    (["http://127.0.0.1:99999/status"], "the port is not a number from 1 to 65535"),
    (["tcp://127.0.0.1:8080"], "only http:// and https:// URLs are checked"),
    (["no-such-program-xyz --ping"], "--check: 'no-such-program-xyz' not found on PATH"),
    ([" "], "is empty"),
])
def test_bad_checks_are_one_line_errors_naming_the_option(specs, message):
    with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_checks(specs, SERVICES, "bee")


def test_the_policy_defaults_its_timeout_to_the_interval_when_that_is_shorter():
    assert CheckPolicy.of(0.5, None, 2, 3).timeout == 0.5
    assert CheckPolicy.of(10, None, 2, 3).timeout == 2.0
    assert CheckPolicy.of(10, 4, 1, 1).timeout == 4
    assert CheckPolicy.of(2, None, 2, 3).describe() == "every 2s, up after 2 passes, down after 3 failures"


@pytest.mark.parametrize("args, message", [
    ((0, None, 2, 3), "--check-interval 0 is out of range"),
    ((float("nan"), None, 2, 3), "--check-interval nan is out of range"),
    ((1, float("inf"), 2, 3), "--check-timeout inf is out of range"),
    ((1, None, 0, 3), "--rise 0 is out of range"),
    ((1, None, 2, 10**6), "--fall 1000000 is out of range"),
])
def test_policy_values_are_range_checked(args, message):
    with pytest.raises(RegistryError, match=message):
        CheckPolicy.of(*args)


def test_a_command_check_passes_on_exit_0_and_says_why_it_failed():
    assert HealthCheck("true").run(timeout=5).passed
    failed = HealthCheck(f"{sys.executable} -c \"import sys; print('db down'); sys.exit(2)\"").run(timeout=5)
    assert not failed.passed and failed.detail == "exit 2: db down"
    slow = HealthCheck(f"{sys.executable} -c \"import time; time.sleep(5)\"").run(timeout=0.2)
    assert not slow.passed and slow.detail.startswith("timed out after")


def test_an_http_check_of_a_closed_port_fails_with_the_reason():
    outcome = HealthCheck("http://127.0.0.1:1/status").run(timeout=2)
    assert not outcome.passed and outcome.detail == "connection refused"
