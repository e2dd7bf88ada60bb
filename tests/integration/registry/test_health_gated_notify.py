"""services:notify --check: a one-shot registration only of the services whose status check passes."""

from __future__ import annotations

import json

from tests.support.proxying import Backends

NODES = {
    "__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd",
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "bee": {"run_list": ["recipe[seatgeek-service::api-workers]", "recipe[seatgeek-service::cronq-workers]"]},
}
FAST = ["--check-interval", "0.1", "--rise", "2", "--fall", "2", "--grace", "0"]


def test_notify_registers_only_the_services_whose_check_passes_and_withdraws_the_others(infra, tmp_path):
    config = tmp_path / "nodes.json"
    config.write_text(json.dumps(NODES))
    backends = Backends(tmp_path / "control", ["api"], tmp_path / "backends.log").start()
    try:
        notify = ["services:notify", "bee", "--node", "bee-1", "--address", backends.address("api"),
                  "--check", f"api-workers={backends.status_url('api')}", "--check", "cronq-workers=true", *FAST]
        first = infra(*notify, config=config)
        assert first.code == 0, first.err
        assert "registered api-workers, cronq-workers" in first.out
        listed = infra("services:list", "--output", "json", config=config).json()
        assert sorted(listed) == ["api-workers", "cronq-workers"]

        backends.fail("api")
        second = infra(*notify, config=config)
        assert second.code == 1
        assert "bee-1: api-workers marked leaving" in second.out and "withdrew api-workers" in second.out
        assert second.err.strip().splitlines() == [
            "error: not registered, failed 2 status checks in a row: api-workers: HTTP 500 from "
            f"{backends.status_url('api')}"]
        assert sorted(infra("services:list", "--output", "json", config=config).json()) == ["cronq-workers"]

        backends.kill()
        third = infra(*notify, config=config)
        assert third.code == 1 and "api-workers: connection refused from" in third.err
    finally:
        backends.stop()
