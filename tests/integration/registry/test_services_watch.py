"""The services:watch agent, as a real process against a real etcd."""

from __future__ import annotations

import signal
import threading
import time

from infra.registry import Registry
from infra.registry.fingerprint import WatchRecord
from infra.registry.on_change import RunOnChange
from infra.registry.watcher import Watcher


def watch_args(recorder, *extra: str) -> list[str]:
    return ["services:watch", "www", "--node", "www-1", "--exec", recorder.command(), "--debounce", "0.2", *extra]


def test_watch_runs_cmd_when_a_dependency_changes_and_not_for_unrelated_services(
        infra, spawn, etcd_server, recorder, wait_for):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    infra("services:notify", "bee", "--node", "bee-2", "--address", "10.0.0.2:8080")
    agent = spawn(*watch_args(recorder), etcd=etcd_server.url)
    wait_for(lambda: recorder.lines()[-1:] == ["end"], what="the first run at start")  # nothing recorded yet
    assert recorder.runs() == ["api-workers"]

    infra("services:notify", "cron", "--node", "cron-1", "--address", "10.0.0.5")  # djjob: www does not use it
    time.sleep(0.6)  # three debounce periods: long enough for a wrongful run to start
    assert recorder.runs() == ["api-workers"]

    started = time.monotonic()
    infra("services:notify", "bee", "--node", "bee-3", "--address", "10.0.0.3:8080")
    wait_for(lambda: len(recorder.runs()) == 2, timeout=5, what="a run after bee-3 joined")
    assert time.monotonic() - started < 3
    assert agent.poll() is None


def test_watch_runs_once_per_burst_and_never_twice_at_once(infra, spawn, etcd_server, recorder, wait_for):
    agent = spawn("services:watch", "www", "--node", "www-1", "--exec", recorder.command(seconds=0.5),
                  "--debounce", "0.5", etcd=etcd_server.url)
    wait_for(lambda: recorder.lines()[-1:] == ["end"], what="the first run")
    for n in range(1, 4):  # a burst: three nodes join at once
        infra("services:notify", "bee", "--node", f"bee-{n}", "--address", f"10.0.0.{n}:8080")
    wait_for(lambda: recorder.lines()[-1:] == ["end"] and len(recorder.runs()) == 2, what="one run for the burst")
    # Changes while CMD runs queue up for one more run after it, never a second CMD alongside.
    infra("services:notify", "bee", "--node", "bee-4", "--address", "10.0.0.4:8080")
    wait_for(lambda: recorder.lines()[-1:] == ["start api-workers"], what="the next run to start")
    infra("services:notify", "bee", "--node", "bee-5", "--address", "10.0.0.5:8080")
    wait_for(lambda: len(recorder.runs()) == 4 and recorder.lines()[-1:] == ["end"], what="the queued run")
    assert "overlap" not in recorder.lines()
    assert agent.poll() is None


def test_watch_survives_an_etcd_restart(infra, own_etcd, spawn, recorder, wait_for, tmp_path):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080", etcd=own_etcd.url)
    agent = spawn(*watch_args(recorder), etcd=own_etcd.url)
    wait_for(lambda: len(recorder.runs()) == 1, what="the first run")

    own_etcd.stop()
    log = tmp_path / "agent-0.log"
    wait_for(lambda: "retrying" in log.read_text(), what="the agent to find etcd gone")
    own_etcd.start()
    wait_for(lambda: "reconnected" in log.read_text(), what="the agent to reconnect")
    assert len(recorder.runs()) == 1  # nothing changed while etcd was away: no run

    infra("services:notify", "bee", "--node", "bee-2", "--address", "10.0.0.2:8080", etcd=own_etcd.url)
    wait_for(lambda: len(recorder.runs()) == 2, timeout=5, what="a run after etcd came back")
    assert agent.poll() is None
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=5) == 0


def test_ctrl_c_stops_the_agent_as_sigterm_does_not_as_an_error(infra, spawn, etcd_server, recorder, wait_for,
                                                                 tmp_path):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    agent = spawn(*watch_args(recorder), etcd=etcd_server.url)
    wait_for(lambda: recorder.lines()[-1:] == ["end"], what="the first run")
    agent.send_signal(signal.SIGINT)
    assert agent.wait(timeout=5) == 0
    log = (tmp_path / "agent-0.log").read_text()
    assert "services:watch: stopped (SIGINT)" in log and "error" not in log


def test_watch_once_runs_cmd_only_when_something_changed_since_the_last_run(infra, recorder, tmp_path):
    record = str(tmp_path / "record.json")
    args = watch_args(recorder, "--once", "--record", record)
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    assert "api-workers changed" in infra(*args).out
    assert "nothing changed" in infra(*args).out
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")  # a no-op re-notify
    infra("services:notify", "cron", "--node", "cron-1", "--address", "10.0.0.5")  # not a dependency
    assert "nothing changed" in infra(*args).out
    infra("services:decommission", "bee", "--node", "bee-1", "--all", "--grace", "0")
    assert "api-workers changed" in infra(*args).out
    assert recorder.runs() == ["api-workers", "api-workers"]


def test_watch_with_a_ttl_keeps_the_node_registered_until_it_stops(infra, spawn, etcd_server, recorder, wait_for):
    agent = spawn("services:watch", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080", "--ttl", "1",
                  "--exec", recorder.command(), etcd=etcd_server.url)
    api = lambda: infra("services:list", "api-workers", "--output", "json").json()["api-workers"]  # noqa: E731
    wait_for(api, what="the agent to register its node")
    time.sleep(2.0)  # twice the 1 s TTL (etcd expires leases within 0.5 s): only renewals keep it there
    assert [entry["node"] for entry in api()] == ["bee-1"]
    agent.kill()  # a dead node renews nothing
    wait_for(lambda: api() == [], timeout=5, what="the registration to expire")


def test_a_quiet_registry_is_not_mistaken_for_a_lost_etcd(infra, etcd_server, registry_root, recorder, wait_for,
                                                          tmp_path):
    logs: list[str] = []
    action = RunOnChange(["api-workers"], recorder.command(), WatchRecord(tmp_path / "record.json"), log=logs.append)
    watcher = Watcher(lambda: Registry.connect(etcd_server.url, registry_root), ["api-workers"], action,
                      quiet=0.1, idle_timeout=0.3, log=logs.append)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: len(recorder.runs()) == 1, what="the first run")
        time.sleep(1.0)  # three idle timeouts with no event
        infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
        wait_for(lambda: len(recorder.runs()) == 2, timeout=5, what="a run after the quiet spell")
    finally:
        watcher.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert not [line for line in logs if "lost" in line or "reconnected" in line]
    assert sum("watching" in line for line in logs) == 1
