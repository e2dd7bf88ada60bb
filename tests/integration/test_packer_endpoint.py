"""The AWS endpoint dying during a packer build: infra notices and stops packer within a minute, in
one line, instead of waiting out packer's own retries (about ten minutes). Real packer, against a
moto server of this test's own that the test kills mid-build."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from infra.sandbox.launcher import MotoServer
from tests.integration.conftest import SECURITY_GROUPS, SOURCE_AMIS
from tests.integration.test_failures import BEE, WWW, kill_group, start_infra, wait_until

STOPPED_WITHIN = 120  # seconds: packer's own retries take ten minutes; infra's watch about 15 s + 10 s grace


@pytest.fixture
def own_moto(control, tmp_path_factory, monkeypatch):
    """A moto server only this test uses (it is killed), with the environment pointing at it."""
    server = MotoServer(tmp_path_factory.mktemp("own-moto")).start(SOURCE_AMIS, security_groups=SECURITY_GROUPS)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.endpoint_url)
    yield server
    server.stop()


def test_the_endpoint_dying_mid_build_stops_packer_within_a_minute_in_one_line(own_moto, control, ops_repo,
                                                                               tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    for group in (BEE, WWW):
        (control / f"pause-{group}").write_text("Waiting for instance")
    apply = start_infra(ops_repo, logs, "apply", "apply", "--auto-approve")
    try:
        wait_until("packer to be building", lambda: all((control / f"paused-{g}").exists() for g in (BEE, WWW))
                   or apply.poll() is not None, timeout=90)
        assert apply.poll() is None, (logs / "apply.err").read_text()
        os.killpg(own_moto.pid, signal.SIGKILL)  # the endpoint dies...
        for record in control.glob("pgid-*"):  # ...while packer carries on, meeting a dead endpoint
            os.killpg(int(record.read_text()), signal.SIGCONT)
        try:
            code = apply.wait(timeout=STOPPED_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the apply still ran {STOPPED_WITHIN}s after its endpoint died") from None
    finally:
        kill_group(apply, control)
    err = (logs / "apply.err").read_text()
    assert code == 1, err
    said = [line for line in err.splitlines() if "stopped answering" in line]
    assert said and all(f"the AWS endpoint {own_moto.endpoint_url} stopped answering during the packer build "
                        f"(Connection refused (3 tries 5s apart)); packer was stopped" in line for line in said), err
