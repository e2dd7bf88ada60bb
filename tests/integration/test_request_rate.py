"""--max-request-rate holds: AWS requests counted at the endpoint (a proxy in front of moto), per
second, across every thread of an apply and a plan, retries included. Behaviour, not speed: the
busiest second is measured, never how long anything took."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra

RATE = 8
GROUPS = 10  # about 4 requests a group in an apply: several seconds' worth at RATE
BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"], "packer": False,
        "autoscale": {"node_min": 0, "node_max": 1, "timeout": 1, "healthy_deadline": 60}}
# Requests leave at least 1/RATE s apart; one held back a moment on its way (a busy machine) may land
# in the next second beside those after it. Unlimited, this apply sends all its ~40 requests within
# a second or two.
JITTER = 2


@pytest.fixture
def repo(tmp_path: Path, monkeypatch) -> Path:
    nodes = {"__settings__": {"project": "acme-ops", "max_request_rate": RATE}, "__base__": BASE,
             **{f"g{n}": {} for n in range(GROUPS)}}
    (tmp_path / "nodes.json").write_text(json.dumps(nodes))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_rate_limit_holds_across_every_thread_of_an_apply_and_a_plan(proxy, repo, capsys):
    applied = run_infra(capsys, "apply", "--auto-approve", "--parallelism", "10")  # the setting
    assert applied.code == 0, applied.err
    made = proxy.reset()
    assert sum(made.values()) >= 4 * RATE  # several seconds' worth: the busiest one says something
    busiest = proxy.busiest_second()
    assert busiest <= RATE + JITTER, (busiest, made)

    proxy.fail_next(3, 503, "ServiceUnavailable")  # retries are requests too
    planned = run_infra(capsys, "--max-request-rate", "3", "plan", "--detailed-exitcode")  # the option wins
    assert planned.code == 0, planned.err
    assert sum(proxy.counts.values()) >= 3 * 3 and proxy.busiest_second() <= 3 + JITTER


def test_a_rate_that_is_not_a_positive_number_is_one_clear_line(repo, capsys):
    refused = run_infra(capsys, "--max-request-rate", "0", "plan")
    assert refused.code == 1 and refused.err.strip() == (
        "error: --max-request-rate 0: give the AWS requests per second, from 0.1 (one request every 10 seconds) to "
        "10000 (0.5 is one request every 2 seconds)")
    tiny = run_infra(capsys, "--max-request-rate", "1e-9", "plan")
    assert tiny.code == 1 and tiny.err.strip().startswith("error: --max-request-rate 1e-09: give the AWS requests")
    nodes = json.loads((repo / "nodes.json").read_text())
    nodes["__settings__"]["max_request_rate"] = -1
    (repo / "nodes.json").write_text(json.dumps(nodes))
    refused = run_infra(capsys, "plan")
    assert refused.code == 1 and "max_request_rate" in refused.err and len(refused.err.strip().splitlines()) == 1


def test_one_sigterm_ends_a_plan_held_back_by_a_low_rate_promptly_in_one_line(proxy, repo, tmp_path):
    """A CI job's timeout sends one SIGTERM: the requests the rate holds back in worker threads wake."""
    import signal
    import subprocess
    import sys
    import time

    infra = Path(sys.executable).with_name("infra")
    plan = subprocess.Popen([str(infra), "--max-request-rate", "0.1", "plan"], cwd=repo, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while sum(proxy.counts.values()) < 2 and plan.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # until its threads are held back (one request each ten seconds)
        assert plan.poll() is None
        plan.send_signal(signal.SIGTERM)
        out, err = plan.communicate(timeout=30)  # held back, it would need minutes: its ~40 requests at 0.1/s
    finally:
        if plan.poll() is None:
            plan.kill()
            plan.wait()
    assert plan.returncode == 143, err
    assert err.strip().splitlines() == ["error: terminated; what finished is recorded in state, the lock is released"]
