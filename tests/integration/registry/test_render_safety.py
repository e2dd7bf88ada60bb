"""One registry entry haproxy cannot load must not stop the rest: real etcd, real haproxy (`haproxy -c`).

Entries written straight into etcd (not through services:notify, which refuses them) and node ids
that sanitise to the same server name used to make haproxy refuse the whole rendered file.
"""

from __future__ import annotations

import hashlib
import json
import subprocess

from infra.providers.etcd import Etcd, Put
from infra.providers.haproxy import check_config, find_binary


def server_hash(node: str) -> str:
    return hashlib.sha256(node.encode()).hexdigest()[:8]


def _raw(etcd_url: str, root: str, service: str, node: str, address: str, group: str = "bee") -> None:
    """An entry as another tool (or a hand with etcdctl) writes it: no check on the way in."""
    value = json.dumps({"group": group, "address": address, "state": "up"})
    Etcd(etcd_url).put_all([Put(f"{root}/services/{service}/{node}", value, 0)])


def test_unsafe_entries_are_left_out_and_reported_and_haproxy_loads_the_rest(infra, etcd_server, registry_root,
                                                                              tmp_path):
    find_binary()  # fail, not skip, when haproxy is missing
    for node, address in (("deploy@bee-1", "10.0.0.1:8080"), ("deploy_bee-1", "10.0.0.2:8080"),
                          ("bee-3", "10.0.0.3:8080")):
        assert infra("services:notify", "bee", "--node", node, "--address", address).code == 0
    _raw(etcd_server.url, registry_root, "-x", "bee-4", "10.0.0.4:80")  # an option, in an ACL
    _raw(etcd_server.url, registry_root, "api-workers", "bee-5", "[:]:80")  # not an address
    _raw(etcd_server.url, registry_root, "api-workers", "bee-6", "[::]:80")  # any interface
    _raw(etcd_server.url, registry_root, "api-workers", "bee-7", "nowhere.invalid:80")  # does not resolve

    out = tmp_path / "haproxy.cfg"
    rendered = infra("services:render", "haproxy.cfg.j2", "--out", str(out), "--check-cmd", "haproxy -c -f {file}")
    assert rendered.code == 1
    warnings = [line for line in rendered.err.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 4 and "left out -x on node bee-4 at 10.0.0.4:80: the service name" in rendered.err
    assert f"left out the unreadable registry key {registry_root}/services/api-workers/bee-5" in rendered.err
    assert "left out api-workers on node bee-7 at nowhere.invalid:80: the hostname nowhere.invalid does not " \
           "resolve here" in rendered.err
    assert rendered.err.strip().splitlines()[-1] == (f"error: 4 registry entries left out of {out} (see above); the "
                                                     f"others are in it")
    config = out.read_text()
    assert check_config(out).ok  # haproxy loads what was written
    backend = config[config.index("\nbackend api-workers"):config.index("\nbackend cronq-workers")]
    servers = [line.split()[1] for line in backend.splitlines() if line.strip().startswith("server ")]
    assert sorted(servers) == ["bee-3", "deploy_bee-1", f"deploy_bee-1-{server_hash('deploy@bee-1')}"]
    assert "nowhere" not in config and "-x" not in config and "bee-5" not in config

    listed = infra("services:list")
    assert ("warning: 1 registry entry cannot be rendered safely (services:render leaves them out): "
            "-x on node bee-4") in listed.err  # a hostname is checked where the render runs, not here
    assert "warning: skipped 2 unreadable registry key(s)" in listed.err  # bee-5 and bee-6


def test_the_watching_render_logs_what_it_leaves_out_and_keeps_following_the_registry(
        infra, spawn, etcd_server, registry_root, tmp_path, wait_for):
    out = tmp_path / "haproxy.cfg"
    assert infra("services:notify", "bee", "--node", "bee-1", "--address", "10.0.0.1:8080").code == 0
    _raw(etcd_server.url, registry_root, "api-workers", "bee-2", "nowhere.invalid:80")
    watching = spawn("services:render", "haproxy.cfg.j2", "--out", str(out), "--group", "www", "--watch",
                     "--check-cmd", "haproxy -c -f {file}", etcd=etcd_server.url)
    try:
        wait_for(lambda: out.exists() and "server bee-1 " in out.read_text(), what="the first render")
        assert infra("services:notify", "bee", "--node", "bee-3", "--address", "10.0.0.3:8080").code == 0
        wait_for(lambda: "server bee-3 " in out.read_text(), what="a later change to be rendered")
        assert "nowhere" not in out.read_text()
    finally:
        watching.terminate()
        watching.wait(timeout=30)
    log = (tmp_path / "agent-0.log").read_text()
    assert "left out api-workers on node bee-2 at nowhere.invalid:80: the hostname nowhere.invalid does not " \
           "resolve here" in log


def test_notify_refuses_an_address_no_request_can_be_sent_to(infra):
    for address, why in (("[:]:80", ": is not an IPv6 address"), ("[::]:80", "is an unspecified address"),
                         ("0.0.0.0:80", "is an unspecified address"), ("10.0.0.256", "is not an IPv4 address")):
        refused = infra("services:notify", "bee", "--node", "bee-1", "--address", address)
        assert refused.code == 1 and why in refused.err and refused.err.count("\n") == 1, refused.err
    assert infra("services:list").err.strip() == "" and "empty" in infra("services:list").out


def test_validate_refuses_a_service_name_haproxy_would_read_as_an_option(infra, tmp_path):
    nodes = tmp_path / "bad.json"
    nodes.write_text(json.dumps({"__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd"},
                                 "bee": {"run_list": ["recipe[seatgeek-service::-x]"]}}))
    refused = infra("validate", config=nodes)
    assert refused.code == 1 and "service '-x'" in refused.err and "must start with a letter or digit" in refused.err


def test_haproxy_refuses_what_the_old_template_made_of_colliding_node_ids(tmp_path):
    """The failure this guards against, shown with haproxy itself: two servers of one name."""
    config = tmp_path / "haproxy.cfg"
    config.write_text("defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                      "backend b\n    server deploy_web-1 10.0.0.1:80\n    server deploy_web-1 10.0.0.2:80\n")
    done = subprocess.run([find_binary(), "-c", "-f", str(config)], capture_output=True, text=True)
    assert done.returncode != 0
