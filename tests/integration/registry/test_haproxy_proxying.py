"""Service-level proxying for real: etcd, haproxy, three HTTP backends on loopback, and traffic the whole time.

Each backend node runs the agent (`services:watch --ttl --check URL`): it registers while its
status check passes. The consumer runs `services:render --watch --haproxy`: haproxy's
config follows the registry, each candidate checked by `haproxy -c` and swapped in by a
master-worker reload. Clients send requests through haproxy throughout (keep-alive and
one-connection-per-request), and every answer is recorded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from infra.providers.haproxy import MasterCLI, find_binary, start
from infra.registry import Registry
from infra.registry.render import find_template
from tests.support.etcd_server import free_port
from tests.support.proxying import Backends, Traffic

NODES = {
    "__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd",
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "api": {"run_list": ["recipe[seatgeek-service::api]"]},
    "www": {"run_list": ["recipe[seatgeek::customer-web]"], "depends_on": ["api"]},
}
INTERVAL, RISE, FALL = 0.3, 2, 2
# From an etcd change to haproxy serving the new set: the watch, --wait, render, haproxy -c and
# the reload. Generous, for a loaded 2-core CI machine; typical is well under a second.
PROPAGATION = 10.0


@pytest.fixture
def proxy(tmp_path: Path, infra, spawn, etcd_server, wait_for):
    """haproxy fed by a `services:render --watch` agent, with its own nodes.json and template."""
    find_binary()  # fail, not skip, when haproxy is missing: install it with scripts/system-deps.sh
    config = tmp_path / "nodes.json"
    config.write_text(json.dumps(NODES))
    template = tmp_path / "haproxy.cfg.j2"
    template.write_text(find_template("haproxy.cfg.j2").read_text())
    port = free_port()
    render = [str(template), "--out", str(tmp_path / "haproxy.cfg"), "--group", "www",
              "--var", f"bind=127.0.0.1:{port}", "--var", "inter=1s"]
    assert infra("services:render", *render, config=config).code == 0  # haproxy needs a file to start
    master = start(tmp_path / "haproxy.cfg", tmp_path / "master.sock", log=tmp_path / "haproxy.log")
    renderer = spawn("services:render", *render, "--haproxy", str(tmp_path / "master.sock"), "--watch",
                     "--wait", "0.2:1", "--retry", "2", etcd=etcd_server.url, config=config)
    try:
        yield Proxy(tmp_path, config, template, port, master, render, renderer)
    finally:
        master.stop()


class Proxy:
    def __init__(self, root: Path, config: Path, template: Path, port: int, master: MasterCLI,
                 render: list[str], renderer) -> None:
        self.root, self.config, self.template, self.port, self.master = root, config, template, port, master
        self.render, self.renderer = render, renderer

    def servers(self) -> dict[str, bool]:
        """The servers haproxy's current worker routes `api` to, and whether each is up."""
        return {server.name: server.up for server in self.master.servers("api")}

    def renderer_log(self) -> str:
        return (self.root / "agent-0.log").read_text()


def test_haproxy_follows_the_registry_and_graceful_changes_drop_no_request(proxy, infra, spawn, etcd_server,
                                                                          registry_root, wait_for, tmp_path):
    backends: dict[str, Backends] = {}
    agents = {}

    def add(name: str) -> None:
        backends[name] = Backends(tmp_path / "control", [name], tmp_path / f"{name}.log").start()
        agents[name] = spawn("services:watch", "api", "--node", name, "--address", backends[name].address(name),
                             "--ttl", "5", "--check", backends[name].status_url(name),
                             "--check-interval", str(INTERVAL), "--rise", str(RISE), "--fall", str(FALL),
                             "--grace", "1", etcd=etcd_server.url, config=proxy.config)

    registry = Registry.connect(etcd_server.url, registry_root)
    up = lambda: {e.node for e in registry.snapshot().entries if e.service == "api" and e.is_up}  # noqa: E731
    traffic = Traffic(proxy.port, "api")
    try:
        add("b1")
        add("b2")
        wait_for(lambda: proxy.servers() == {"b1": True, "b2": True}, timeout=30,
                 what="b1 and b2 to pass their checks, register, and be served by haproxy")
        traffic.start()
        wait_for(lambda: set(traffic.served_by(0)) == {"b1", "b2"}, timeout=10, what="traffic through haproxy")

        # A node joins: it registers once its check passed RISE times; haproxy reloads; nothing fails.
        joined = time.monotonic()
        add("b3")
        wait_for(lambda: "b3" in traffic.served_by(joined), timeout=RISE * INTERVAL + PROPAGATION + 5,
                 what="b3 to be served through haproxy")
        assert traffic.failures(joined) == []

        # A node is decommissioned with a grace period: marked leaving, dropped by haproxy, removed,
        # and only then are its agent and its service stopped. Nothing fails.
        leaving = time.monotonic()
        result = infra("services:decommission", "api", "--node", "b1", "--all", "--grace", "3", config=proxy.config)
        assert result.code == 0 and "withdrew api" in result.out, result.err
        assert "b1" not in proxy.servers()  # gone from haproxy within the grace period
        agents["b1"].terminate()
        backends["b1"].stop()
        gone = time.monotonic()
        wait_for(lambda: len(traffic.since(gone)) > 200, timeout=30, what="traffic after b1 stopped")
        assert traffic.failures(leaving) == []
        assert "b1" not in traffic.served_by(gone)

        # b2's status check fails: it leaves rotation within FALL x INTERVAL plus propagation.
        failing = time.monotonic()
        backends["b2"].fail("b2")
        wait_for(lambda: "b2" not in proxy.servers(), timeout=FALL * INTERVAL + PROPAGATION,
                 what="b2 to leave haproxy after failing its status check")
        assert "b2" not in up()
        assert traffic.failures(failing) == []  # b2 still answered requests; only its status failed
        backends["b2"].heal("b2")
        healed = time.monotonic()
        wait_for(lambda: "b2" in traffic.served_by(healed), timeout=RISE * INTERVAL + PROPAGATION + 5,
                 what="b2 to come back after its check passed again")

        # b3's process is killed (its agent keeps running): it leaves within FALL x INTERVAL plus propagation.
        backends["b3"].kill()
        wait_for(lambda: "b3" not in proxy.servers(), timeout=FALL * INTERVAL + PROPAGATION,
                 what="the killed b3 to leave haproxy")
        assert "b3" not in up()
        after_kill = time.monotonic()
        wait_for(lambda: len(traffic.since(after_kill)) > 100, timeout=30, what="traffic after b3 left")
        assert set(traffic.served_by(after_kill)) == {"b2"} and traffic.failures(after_kill) == []

        # A template change haproxy rejects: the running config stays, and keeps serving.
        workers = proxy.master.processes().workers
        running = (proxy.root / "haproxy.cfg").read_text()
        text = proxy.template.read_text()
        proxy.template.write_text(text.replace("defaults\n", "defaults\n    bogus-directive on\n", 1))
        broken = time.monotonic()
        infra("services:notify", "api", "--node", "b9", "--address", "127.0.0.1:1", config=proxy.config)
        wait_for(lambda: "haproxy refused the new" in proxy.renderer_log(), timeout=PROPAGATION,
                 what="the renderer to report haproxy's refusal")
        assert "unknown keyword 'bogus-directive'" in proxy.renderer_log()
        assert (proxy.root / "haproxy.cfg").read_text() == running
        assert proxy.master.processes().workers == workers  # no reload happened
        assert proxy.servers() == {"b2": True}
        one_shot = infra("services:render", *proxy.render, "--haproxy", str(proxy.root / "master.sock"),
                         config=proxy.config)
        assert one_shot.code == 1 and len(one_shot.err.strip().splitlines()) == 1
        assert "haproxy refused the new" in one_shot.err and "was left as it was" in one_shot.err
        checked = time.monotonic()
        wait_for(lambda: len(traffic.since(checked)) > 100, timeout=30, what="traffic on the old config")
        assert traffic.failures(broken) == [] and set(traffic.served_by(checked)) == {"b2"}
        assert proxy.renderer.poll() is None  # the agent goes on
    finally:
        for process in backends.values():
            process.stop()
        traffic.stop()
