"""Webhooks (`__settings__.notify`) on a real HTTP server on 127.0.0.1: a roll that starts, pauses,
is promoted and finishes, and drift found, are told with Slack's JSON body; a webhook that answers
500, or that nobody listens on, is a warning naming it without its secret path, never a failed
deploy."""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.cli_helpers import run_infra
from tests.integration.fleet_support import BEE, asgs, write
from tests.integration.test_rollout_steps import paused_roll, team_repo  # noqa: F401  (fixtures)

SECRET = "services/T0001/B0002/XXXXSECRET"


class Hooks(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802  (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/fail"):
            self.send_response(500)
        else:
            type(self).received.append({"path": self.path, "type": self.headers.get("Content-Type"),
                                        "body": json.loads(body)})
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def webhooks():
    Hooks.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        nobody = closed.getsockname()[1]
    yield server.server_address[1], nobody
    server.shutdown()


def told() -> list[str]:
    return [hook["body"]["text"] for hook in Hooks.received]


def test_a_paused_roll_promoted_and_drift_are_told_and_a_failing_webhook_is_a_warning(
        team_repo, webhooks, capsys, autoscaling, monkeypatch):  # noqa: F811
    port, nobody = webhooks
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    nodes = json.loads((team_repo / "nodes.json").read_text())
    nodes["__settings__"]["notify"] = {"webhooks": [f"http://127.0.0.1:{port}/{SECRET}",
                                                    f"http://127.0.0.1:{port}/fail?token=abc",
                                                    f"http://127.0.0.1:{nobody}/{SECRET}"], "timeout": 2}
    write(team_repo, nodes)
    old, new = paused_roll(capsys, autoscaling)
    assert all(hook["path"] == f"/{SECRET}" and hook["type"] == "application/json" for hook in Hooks.received)
    assert [text.split(": ")[0] for text in told()] == [f"[ops] roll of asg.{BEE} started", f"[ops] roll of asg.{BEE} "
                                                                                             f"paused"]
    assert "steps 1. canary 1 of 2, 2. pause until infra rollout promote" in told()[0]
    assert f"paused: {new['AutoScalingGroupName']}: paused at step 2/3" in told()[1]

    Hooks.received.clear()
    promoted = run_infra(capsys, "rollout", "promote", BEE)
    assert promoted.code == 0, promoted.err + promoted.out
    assert [text.split(": ")[0].split(" in ")[0] for text in told()] == [
        f"[ops] roll of asg.{BEE} promoted", f"[ops] roll of asg.{BEE} finished"]
    out = promoted.out
    assert f"notify: http://127.0.0.1:{port}/(sensitive) answered 500 Internal Server Error; the deploy goes on" in out
    assert f"notify: http://127.0.0.1:{nobody}/(sensitive) could not be reached" in out
    assert "SECRET" not in out + promoted.err and "token=abc" not in out + promoted.err

    Hooks.received.clear()
    [group] = asgs(autoscaling, BEE)
    autoscaling.detach_load_balancer_target_groups(AutoScalingGroupName=group["AutoScalingGroupName"],
                                                   TargetGroupARNs=group["TargetGroupARNs"])
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and told() == [f"[ops] drift found: 1 of 5 resource(s) changed outside infra "
                                          f"(asg.{BEE})"], told()
    assert "warning: notify: http://127.0.0.1:" in drift.err and "SECRET" not in drift.err


def test_a_webhook_that_is_not_a_url_is_one_line_without_the_secret(ops_repo: Path, capsys):
    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["__settings__"] = {"notify": {"webhooks": [f"hooks.slack.com/{SECRET}"]}}
    write(ops_repo, nodes)
    result = run_infra(capsys, "validate")
    assert result.code == 1 and "__settings__" in result.err and "is not an http(s) URL" in result.err, result.err
    assert "SECRET" not in result.err
