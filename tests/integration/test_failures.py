"""The failure suite: what goes wrong in real runs leaves state whole and resumable, and loses nothing.

Against the real parts: the moto server, the real packer (wrapped by tests/support/packer_wrapper.py
where a test needs it to die or stall at a chosen point), and `infra` itself as a process where a
test kills it or runs two at once. Already covered elsewhere, so not here: a held lock refused by
name and `state unlock` (tests/test_cli_local.py), stale saved plans, damaged or newer state files
(tests/unit/test_state.py), a failed action stopping only its dependants and the re-run resuming
(tests/unit/test_executor.py). Secrets: tests/integration/test_secrets.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs

import boto3
import pytest

from infra.errors import StateError
from infra.providers import packer
from infra.state.journal import JournaledBackend
from infra.state.local import LocalBackend
from infra.state.model import State
from tests.cli_helpers import run_infra
from tests.support import packer_wrapper
from tests.support.aws_proxy import CountingProxy

INFRA = Path(sys.executable).with_name("infra")
BEE, WWW = "12_04-bee", "12_04-www"
DEADLINE = 20.0


# -- helpers -------------------------------------------------------------------------------------


def builds(control: Path) -> list[str]:
    """The groups packer was asked to build, in order."""
    log = control / "builds"
    return log.read_text().split() if log.exists() else []


def amis_per_group(ec2) -> Counter[str]:
    images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:infra:managed", "Values": ["true"]}])
    return Counter(tag["Value"] for image in images["Images"] for tag in image.get("Tags", []) if tag["Key"] == "group")


def asgs_of(group: str, endpoint_url: str) -> list[str]:
    client = boto3.client("autoscaling", region_name="us-east-1", endpoint_url=endpoint_url)
    return [g["AutoScalingGroupName"] for g in client.describe_auto_scaling_groups()["AutoScalingGroups"]
            if any(t["Key"] == "group" and t["Value"] == group for t in g["Tags"])]


def state_on_disk(repo: Path) -> State:
    """The state as another infra would read it: the state file whole, valid, of a sane version, and
    the journal of what finished since it was written replayed (infra/state/journal.py)."""
    infra_dir = repo / ".infra"
    state = JournaledBackend(LocalBackend(infra_dir / "state.json"), infra_dir / "state.json.journal").read()
    assert state.lineage and state.serial >= 1
    return state


def recorded(repo: Path) -> set[str]:
    """Addresses in the state right now, read the way a poller must: it may not exist yet."""
    try:
        return set(state_on_disk(repo).resources)
    except (FileNotFoundError, AssertionError, StateError):
        return set()


def start_infra(repo: Path, logs: Path, name: str, *args: str) -> subprocess.Popen:
    """`infra ARGS` as its own process group (so a test can kill it and its packer at once)."""
    out, err = (logs / f"{name}.out").open("w"), (logs / f"{name}.err").open("w")
    with out, err:
        return subprocess.Popen([str(INFRA), *args], cwd=repo, env=dict(os.environ), stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)


def wait_until(what: str, condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def kill_group(process: subprocess.Popen, control: Path | None = None) -> None:
    """kill -9 of infra's process group, and of its packer builds' (each runs in a group of its own)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    if control is not None:
        packer_wrapper.kill_builds(control)
    process.wait(timeout=10)


# -- 1. throttling and 5xx ---------------------------------------------------------------------------


class FaultProxy(CountingProxy):
    """The counting proxy, noting which client (boto3, or packer's Go SDK) got each injected error,
    and able to let some requests through before the injected errors start."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__(upstream_port)
        self.answered: list[tuple[str, str]] = []  # (client, AWS action) per injected error
        self._request = threading.local()
        self._let_through = 0

    def fail_after(self, requests: int, times: int, status: int, code: str) -> None:
        with self._lock:
            self._let_through = requests
        self.fail_next(times, status, code)

    def count(self, headers, body: bytes, path: str) -> None:
        super().count(headers, body, path)
        agent = headers.get("User-Agent", "")
        action = (headers.get("X-Amz-Target") or "").split(".")[-1] or \
            (parse_qs(body.decode(errors="replace")).get("Action") or [path])[0]
        self._request.who = ("packer" if "aws-sdk-go" in agent else "boto3" if "Boto3" in agent else agent, action)

    def next_fault(self):
        with self._lock:
            if self._let_through:
                self._let_through -= 1
                return None
        fault = super().next_fault()
        if fault is not None:
            with self._lock:
                self.answered.append(self._request.who)
        return fault


@pytest.fixture
def proxy(aws, moto_server, monkeypatch: pytest.MonkeyPatch):
    proxy = FaultProxy(moto_server.port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
    yield proxy
    proxy.close()


def test_throttling_and_5xx_are_retried_by_infra_and_by_packer(proxy, ops_repo, ec2, capsys, monkeypatch):
    """Errors are injected during `plan` (boto3's describes), at the start of `apply` (its observe) and
    during each packer build (packer's own calls): each is retried, nothing fails.

    Packer 1.6.6 sends its first call (the AMI name check) with its SDK's retries turned off, so a
    throttled answer to it fails the build; infra starts such a build again (infra/providers/packer.py)."""
    packer.binary()
    assert run_infra(capsys, "plan").code == 0
    calm = proxy.reset()

    proxy.fail_next(1, 400, "Throttling")
    proxy.fail_next(1, 400, "ThrottlingException")
    proxy.fail_next(1, 503, "ServiceUnavailable")
    planned = run_infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 2, planned.err
    assert "Plan: 7 to add, 0 to change, 0 to destroy, 2 to build." in planned.out
    stormy = proxy.reset()
    assert set(stormy) == set(calm) and sum(stormy.values()) == sum(calm.values()) + 3  # one retry per error
    assert [who for who, _ in proxy.answered] == ["boto3"] * 3

    real_build = packer.build
    started: list[int] = []

    def build_in_a_storm(*args, **kwargs):
        # nothing else runs while packer builds (--parallelism 1): these errors reach packer, not boto3
        started.append(1)
        if len(started) == 1:  # packer's first call (the AMI name check) goes out with retries off...
            proxy.fail_next(1, 400, "RequestLimitExceeded")  # (EC2's own throttling code)
        else:  # ...its later calls are retried by its SDK
            proxy.fail_after(1, 1, 400, "Throttling")
            proxy.fail_next(1, 503, "Unavailable")
        return real_build(*args, **kwargs)

    monkeypatch.setattr(packer, "build", build_in_a_storm)
    proxy.answered.clear()
    proxy.fail_next(1, 500, "InternalError")
    applied = run_infra(capsys, "apply", "--auto-approve", "--parallelism", "1")
    assert applied.code == 0, applied.err
    assert "Apply complete: 9 action(s) done." in applied.out
    assert Counter(who for who, _ in proxy.answered) == {"boto3": 1, "packer": 3}, proxy.answered
    assert (f"ami.{BEE}: packer's first AWS call was refused (Error querying AMI: RequestLimitExceeded: injected by "
            f"the test proxy); nothing was made yet, building again in") in applied.out  # ...so infra does
    assert "building again" not in applied.out.split(f"ami.{WWW}: build...")[1]

    assert amis_per_group(ec2) == {BEE: 1, WWW: 1}
    assert state_on_disk(ops_repo).resources.keys() >= {f"ami.{BEE}", f"ami.{WWW}", f"asg.{BEE}"}
    monkeypatch.setattr(packer, "build", real_build)
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


# -- 2. packer failing mid-build ---------------------------------------------------------------------


def test_packer_killed_mid_build_fails_its_group_only_and_a_rerun_builds_just_that(control, ops_repo, ec2,
                                                                                  aws, capsys):
    # killed once it has made something (a key pair), well before it could make and tag an AMI
    (control / f"kill-{BEE}").write_text("Creating temporary keypair")
    failed = run_infra(capsys, "apply", "--auto-approve")
    assert failed.code == 1
    assert (f"ami.{BEE}: failed after" in failed.err and "packer build was killed by SIGKILL during: ==> "
            "amazon-ebs: Creating temporary keypair: infra." in failed.err and "what it had made so far (a build "
            "instance, a key pair) may be left over" in failed.err), failed.err
    assert f"launch_template.{BEE}: skipped: depends on ami.{BEE}, which failed" in failed.err
    assert f"ami.{WWW}: built (" in failed.out  # the other group finished
    assert f"failed: ami.{BEE}" in failed.err and "run the same command again to resume" in failed.err
    state = state_on_disk(ops_repo)
    assert f"ami.{WWW}" in state.resources and f"dna.{BEE}" in state.resources
    assert not {f"ami.{BEE}", f"launch_template.{BEE}", f"asg.{BEE}"} & state.resources.keys()
    assert amis_per_group(ec2) == {WWW: 1}
    assert not (ops_repo / ".infra" / "state.lock").exists()

    (control / f"kill-{BEE}").unlink()
    planned = run_infra(capsys, "plan")
    # packer was killed as it said it makes its key pair: made or not yet, a leftover one goes
    left = [(f"build_leftover.{BEE}.{p['KeyName']}", "destroyed") for p in ec2.describe_key_pairs()["KeyPairs"]]
    assert re.findall(r"^  # (\S+) will be (\w+)", planned.out, re.M) == [
        (f"ami.{BEE}", "built"), (f"launch_template.{BEE}", "created"), (f"asg.{BEE}", "created"), *left]
    resumed = run_infra(capsys, "apply", "--auto-approve")
    assert resumed.code == 0, resumed.err
    assert Counter(builds(control)) == {BEE: 2, WWW: 1} and builds(control)[-1] == BEE  # www was not rebuilt
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1} and len(asgs_of(BEE, aws)) == 1
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_a_source_ami_gone_after_planning_fails_that_build_with_packers_reason(control, ops_repo, ec2, capsys):
    """A source AMI that does not exist is a plan-time error; one deregistered between the plan and
    its apply fails that group's build only, with packer's reason."""
    good = (ops_repo / "nodes.json").read_text()
    nodes = json.loads(good)
    nodes[WWW]["source_ami"] = "ami-0badc0de"
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    assert run_infra(capsys, "plan", "--out", "tf.plan").code == 0
    ec2.deregister_image(ImageId="ami-0badc0de")
    planned = run_infra(capsys, "plan")
    assert planned.code == 1 and f"group '{WWW}': source_ami: ami-0badc0de does not exist in us-east-1" in planned.err
    failed = run_infra(capsys, "apply", "tf.plan")
    assert failed.code == 1
    reason = failed.err.split(f"ami.{WWW}: failed after")[1].splitlines()[0]
    assert f"packer/{WWW}.json (from ami-0badc0de in us-east-1): packer build failed: " in reason
    assert "No AMI was found" in reason.split("packer build failed")[1], reason  # packer's words
    assert f"ami.{BEE}: built (" in failed.out and f"asg.{BEE}: created (" in failed.out
    assert amis_per_group(ec2) == {BEE: 1}
    assert f"ami.{WWW}" not in state_on_disk(ops_repo).resources

    (ops_repo / "nodes.json").write_text(good)
    resumed = run_infra(capsys, "apply", "--auto-approve")
    assert resumed.code == 0, resumed.err
    assert f"ami.{BEE}: build" not in resumed.out and builds(control).count(BEE) == 1
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1}
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


# -- 3. the process killed between two actions -------------------------------------------------------


def test_an_apply_killed_between_two_actions_resumes_without_duplicates(control, ops_repo, ec2, aws, tmp_path_factory,
                                                                        capsys):
    """Killed (SIGKILL, with its packer) after packer made the second AMI but before infra recorded it."""
    (control / f"hold-{WWW}").touch()
    logs = tmp_path_factory.mktemp("logs")
    apply = start_infra(ops_repo, logs, "apply", "apply", "--auto-approve", "--parallelism", "1")
    try:
        wait_until(f"ami.{BEE} in state and the {WWW} AMI built",
                   lambda: f"ami.{BEE}" in recorded(ops_repo) and (control / f"built-{WWW}").exists()
                   or apply.poll() is not None)
        assert apply.poll() is None, (logs / "apply.err").read_text()
    finally:
        kill_group(apply, control)
    assert apply.returncode == -signal.SIGKILL

    infra_dir = ops_repo / ".infra"
    state = state_on_disk(ops_repo)
    assert {f"ami.{BEE}", f"asg.{BEE}", f"packer_template.{WWW}"} <= state.resources.keys()
    assert f"ami.{WWW}" not in state.resources  # the action that was running is not recorded...
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1}  # ...though its AMI exists
    # What finished after the state was first written is in the journal beside it, written as it finished.
    written_whole = State.from_json((infra_dir / "state.json").read_text(), "state.json")
    assert f"ami.{BEE}" not in written_whole.resources and written_whole.lineage == state.lineage
    assert sorted(p.name for p in infra_dir.iterdir() if p.name != "state.json.backup") == [
        "state.json", "state.json.journal", "state.lock", "tmp"]
    assert [p.name.startswith(f"infra-packer-{WWW}-") for p in (infra_dir / "tmp").iterdir()] == [True]

    refused = run_infra(capsys, "apply", "--auto-approve")
    assert refused.code == 1 and f"(pid {apply.pid})" in refused.err and "for apply" in refused.err
    assert "no longer running on this host, so the lock is stale" in refused.err
    lock_id = json.loads((infra_dir / "state.lock").read_text())["id"]
    assert f"run infra state unlock {lock_id}" in refused.err
    assert run_infra(capsys, "state", "unlock", lock_id).code == 0

    planned = run_infra(capsys, "plan", "--detailed-exitcode")
    assert planned.code == 0, planned.out  # the unrecorded AMI is found by its hash tag and adopted
    resumed = run_infra(capsys, "apply", "--auto-approve")
    assert resumed.code == 0, resumed.err
    assert builds(control) == [BEE, WWW]
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1} and len(asgs_of(BEE, aws)) == 1
    after = state_on_disk(ops_repo)
    assert after.lineage == state.lineage and after.serial > state.serial
    assert not (infra_dir / "state.json.journal").exists()  # written whole at the end of the apply
    www = ec2.describe_images(Owners=["self"], Filters=[{"Name": "tag:group", "Values": [WWW]}])["Images"]
    assert after.resources[f"ami.{WWW}"].outputs["image_id"] == www[0]["ImageId"]  # the AMI packer made, adopted
    assert list((infra_dir / "tmp").iterdir()) == []  # the killed build's template copy is gone


# -- 4. two applies at once ----------------------------------------------------------------------------


@contextmanager
def two_applies_at_once(control: Path, repo: Path, logs: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """Two `infra apply` started together, every build held at the packer wrapper's gate: yields the
    winner, still building and holding the lock, and what the loser said (it exited 1); then lets
    the winner finish, which must succeed, and kills whatever is left."""
    (control / "gate").touch()
    both = {name: start_infra(repo, logs, name, "apply", "--auto-approve") for name in ("a", "b")}
    try:
        wait_until("one of the two applies to end", lambda: any(p.poll() is not None for p in both.values()),
                   timeout=60)
        loser = next(name for name, p in both.items() if p.poll() is not None)
        winner = next(name for name in both if name != loser)
        refused = (logs / f"{loser}.err").read_text()
        assert both[loser].returncode == 1, refused
        assert both[winner].poll() is None  # still building, holding the lock
        yield both[winner], refused
        (control / "release").touch()
        assert both[winner].wait(timeout=DEADLINE) == 0, (logs / f"{winner}.err").read_text()
    finally:
        for process in both.values():
            kill_group(process, control)


def test_two_applies_at_once_one_wins_and_the_other_is_refused_naming_it(control, ops_repo, ec2, aws,
                                                                          tmp_path_factory, capsys):
    with two_applies_at_once(control, ops_repo, tmp_path_factory.mktemp("logs")) as (winner, refused):
        assert "is locked by" in refused and f"(pid {winner.pid})" in refused and "for apply" in refused
        assert "if that process is gone, run: infra state unlock" in refused  # alive: not called stale
    assert not (ops_repo / ".infra" / "state.lock").exists()
    assert len(state_on_disk(ops_repo).resources) == 9
    assert sorted(builds(control)) == [BEE, WWW]
    assert amis_per_group(ec2) == {BEE: 1, WWW: 1} and len(asgs_of(BEE, aws)) == 1
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
