"""notify, list, collect, decommission, TTLs and render, against a real etcd."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from infra.providers.etcd import Etcd
from infra.registry import Registry


def test_two_nodes_notify_then_list_and_collect_show_both(infra):
    assert infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080").code == 0
    assert infra("services:notify", "bee", "--node", "bee-2", "--address", "10.0.0.2:8080").code == 0

    listed = infra("services:list", "api-workers", "--output", "json")
    assert listed.code == 0
    assert [(e["node"], e["address"], e["state"]) for e in listed.json()["api-workers"]] == [
        ("bee-1", "10.0.0.1:8080", "up"), ("bee-2", "10.0.0.2:8080", "up")]

    text = infra("services:list").out
    assert "cronq-workers  bee-2  10.0.0.2:8080  bee    up" in text

    collected = infra("services:collect", "www", "--node", "www-1", "--output", "json").json()
    services = collected["seatgeek-services"]
    assert services["available"] == {}
    assert [where["address"] for where in services["services"]["api-workers"]] == ["10.0.0.1:8080", "10.0.0.2:8080"]
    assert services["services"]["djjob"] == []  # known from nodes.json, runs nowhere yet


def test_collect_counts_this_node_before_it_has_notified(infra):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    data = infra("services:collect", "bee", "--node", "bee-2", "--address", "10.0.0.2:9000",
                 "--output", "json").json()["seatgeek-services"]
    assert data["available"] == {"api-workers": True, "cronq-workers": True}
    assert [w["node"] for w in data["services"]["api-workers"]] == ["bee-1", "bee-2"]
    assert data["services"]["api-workers"][1] == {"node": "bee-2", "group": "bee", "address": "10.0.0.2:9000",
                                                  "host": "10.0.0.2", "port": 9000}


def test_renotifying_writes_nothing(infra, etcd_server, registry_root):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080", "--ttl", "30")
    registry = Registry.connect(etcd_server.url, registry_root)
    before = registry.snapshot()
    again = infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080", "--ttl", "30")
    assert "already registered" in again.out
    after = registry.snapshot()
    assert after.entries == before.entries  # same values, same lease
    assert after.revision == before.revision  # nothing was written, so no watcher wakes up
    moved = infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.9:8080", "--ttl", "30")
    assert "registered api-workers, cronq-workers" in moved.out


def test_list_shows_a_lease_in_hex_in_text_and_json_alike(infra, etcd_server):
    notified = infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080", "--ttl", "60")
    infra("services:notify", "cron", "--node", "cron-1", "--address", "10.0.0.5")
    lease = notified.out.split(" on lease ")[1].split()[0]
    assert Etcd(etcd_server.url).lease_ttl(int(lease, 16))[1] == 60  # etcd knows the lease by that id
    listed = infra("services:list", "--output", "json").json()
    assert [e["lease"] for e in listed["api-workers"]] == [lease] and [e["lease"] for e in listed["djjob"]] == [None]
    rows = [line.split() for line in infra("services:list").out.splitlines()[1:]]
    assert {row[-1] for row in rows if row[1] == "bee-1"} == {lease}
    assert [r[-1] for r in rows if r[1] == "cron-1"] == ["-"]


def test_a_ttl_registration_expires_when_not_renewed(infra, wait_for):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1", "--ttl", "1")
    infra("services:notify", "cron", "--node", "cron-1", "--address", "10.0.0.5")
    assert len(infra("services:list", "api-workers", "--output", "json").json()["api-workers"]) == 1
    wait_for(lambda: infra("services:list", "api-workers", "--output", "json").json()["api-workers"] == [],
             timeout=5, what="the leased entry to expire")
    assert [e["node"] for e in infra("services:list", "djjob", "--output", "json").json()["djjob"]] == ["cron-1"]


def test_decommission_withdraws_only_what_the_node_no_longer_runs_announcing_it_first(
        infra, tmp_path, etcd_server, registry_root):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    infra("services:notify", "bee", "--node", "bee-2", "--address", "10.0.0.2:8080")
    start = Etcd(etcd_server.url).range("/")[1] + 1
    # The group drops cronq-workers from its run list.
    nodes = json.loads((tmp_path / "nodes.json").read_text())
    nodes["bee"]["run_list"] = ["recipe[seatgeek-service::api-workers]"]
    after = tmp_path / "nodes-after.json"
    after.write_text(json.dumps(nodes))

    result = infra("services:decommission", "bee", "--node", "bee-1", "--grace", "0", config=after)
    assert result.code == 0, result.err
    assert "cronq-workers marked leaving" in result.out and "withdrew cronq-workers" in result.out

    listed = infra("services:list", "--output", "json").json()
    assert [e["node"] for e in listed["cronq-workers"]] == ["bee-2"]
    assert [e["node"] for e in listed["api-workers"]] == ["bee-1", "bee-2"]
    # etcd's history shows the entry was marked leaving before it was removed.
    history = _history(etcd_server.url, f"{registry_root}/services/cronq-workers/bee-1", start)
    assert history == [("put", "leaving"), ("delete", None)]
    again = infra("services:decommission", "bee", "--node", "bee-1", "--grace", "0", config=after)
    assert "nothing to withdraw" in again.out


def test_decommission_all_withdraws_every_service_of_a_node_going_away(infra):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    result = infra("services:decommission", "bee", "--node", "bee-1", "--all", "--grace", "0")
    assert "withdrew api-workers, cronq-workers" in result.out
    assert infra("services:list").out.strip() == "the registry is empty"


def test_collect_marks_services_this_node_no_longer_runs_as_unavailable(infra, tmp_path):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    nodes = json.loads((tmp_path / "nodes.json").read_text())
    nodes["bee"]["run_list"] = ["recipe[seatgeek-service::api-workers]"]
    after = tmp_path / "nodes-after.json"
    after.write_text(json.dumps(nodes))
    data = infra("services:collect", "bee", "--node", "bee-1", "--output", "json", config=after).json()
    assert data["seatgeek-services"]["available"] == {"api-workers": True, "cronq-workers": False}
    assert data["seatgeek-services"]["services"]["cronq-workers"] == []


def test_an_unreachable_etcd_is_one_line_error_not_a_traceback(nodes_json):
    infra_bin = str(Path(sys.executable).with_name("infra"))
    result = subprocess.run([infra_bin, "--config", str(nodes_json), "services:list", "--etcd",
                             "http://127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: cannot reach etcd at http://127.0.0.1:1: connection refused (is etcd running? "
        "set --etcd URL or INFRA_ETCD)"]


def test_render_writes_haproxy_config_and_reloads_only_when_it_changed(infra, tmp_path):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    out, reloads = tmp_path / "haproxy.cfg", tmp_path / "reloads"
    reload = f"{sys.executable} -c \"open('{reloads}', 'a').write('reload\\n')\""

    first = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--exec", reload, "--group", "www")
    assert first.code == 0, first.err
    config = out.read_text()
    assert "backend api-workers" in config and "server bee-1 10.0.0.1:8080 check" in config
    assert "cronq-workers" not in config  # www depends on api-workers only
    assert reloads.read_text() == "reload\n"

    second = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--exec", reload, "--group", "www")
    assert "unchanged; not running" in second.out
    assert reloads.read_text() == "reload\n"

    infra("services:notify", "bee", "--node", "bee-2", "--address", "10.0.0.2:8080")
    infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--exec", reload, "--group", "www")
    assert "server bee-2 10.0.0.2:8080 check" in out.read_text()
    assert reloads.read_text() == "reload\nreload\n"


def test_render_puts_the_old_file_back_when_the_reload_fails(infra, tmp_path):
    out = tmp_path / "haproxy.cfg"
    infra("services:render", "haproxy.cfg.j2", "--out", str(out))
    before = out.read_text()
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    failed = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--exec", "false")
    assert failed.code == 1 and "exited 1" in failed.err
    assert out.read_text() == before  # so the next render tries the change again


def test_a_dry_render_prints_the_file_and_what_would_run_and_changes_nothing(infra, tmp_path):
    infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080")
    out = tmp_path / "haproxy.cfg"
    dry = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--group", "www", "--dry",
                "--check-cmd", "cat {file}", "--haproxy", str(tmp_path / "master.sock"), "--exec", "true")
    assert dry.code == 0, dry.err
    assert "backend api-workers" in dry.out and "server bee-1 10.0.0.1:8080 check" in dry.out
    steps = dry.err.splitlines()
    assert steps[:2] == ["dry run: nothing is written or run",
                         f"{out} would be created ({len(dry.out.splitlines())} lines)"]
    assert steps[2].startswith("would check: cat ") and steps[3].startswith("would check: haproxy -c -f ")
    assert steps[4:] == [f"would replace {out} with the candidate (one rename)",
                         f"would reload haproxy through its master CLI at {tmp_path / 'master.sock'} (a new worker "
                         f"takes the listening sockets; the old one finishes its requests)",
                         "would run: true"]
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "nodes.json"]


def _history(url: str, key: str, start: int) -> list[tuple[str, str | None]]:
    """The changes of `key` from revision `start` until it was deleted, read back from etcd's history."""
    events: list[tuple[str, str | None]] = []
    stream = Etcd(url).watch(key, start, idle_timeout=5)
    try:
        for batch in stream:
            for event in batch:
                if event.key == key:
                    events.append((event.kind, json.loads(event.value)["state"] if event.kind == "put" else None))
            if events and events[-1][0] == "delete":
                break
    finally:
        stream.close()
    return events


def test_a_node_id_with_an_at_sign_serves_under_a_name_haproxy_takes(infra, tmp_path):
    infra("services:notify", "bee", "--node", "deploy@bee-1", "--address", "10.0.0.1:8080")
    out = tmp_path / "haproxy.cfg"
    rendered = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--group", "www",
                     "--check-cmd", "haproxy -c -f {file}")
    assert rendered.code == 0, rendered.err
    assert "server deploy_bee-1-62cfc4a6 10.0.0.1:8080 check" in out.read_text()  # sanitised + hash of the id
