"""Benchmark: how fast haproxy follows the registry, and what churn costs the traffic through it.

    .venv/bin/python benchmarks/registry_churn.py           # 10, 100 and 1,000 nodes (about 6 minutes on 2 cores)
    .venv/bin/python benchmarks/registry_churn.py --quick   # 10 and 100 nodes, 6 events; writes nothing

For each size, N nodes of service `api` are registered in a real etcd, each with a real HTTP
backend on its own loopback port (tests/support/http_backends.py, one process for all), and
haproxy (master-worker) is fed by the real agent, `infra services:render --watch --haproxy`, run
as the CLI runs it. Clients send requests through haproxy the whole time (two on keep-alive
connections, two with a new connection per request; tests/support/proxying.py). Then churn, one
event at a time: a node joins (services:notify's write), then leaves gracefully (marked leaving,
as services:decommission does, and removed once haproxy dropped it). For each event:
- the time from the etcd write to haproxy's current worker having the new set, asked through
  the master CLI (`@1 get weight api/NODE`) every 5 ms;
- the requests that failed while it happened.
Each size runs with the agent's default quiescence window (--wait 0.5:5) and with none
(--wait 0), which shows the pipeline's own cost: watch, render, haproxy -c, swap, reload.

Everything listens on 127.0.0.1 only; every wait has a limit. The figures replace this
benchmark's own section of docs/performance.md and leave every other section as it is.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from doc_sections import replace_section  # noqa: E402

from infra.providers.etcd import Put  # noqa: E402
from infra.providers.haproxy import MasterCLI, check_config, find_binary, start  # noqa: E402
from infra.registry import Address, Entry, Registry  # noqa: E402
from infra.registry.render import render, render_text  # noqa: E402
from tests.support.etcd_server import EtcdServer, free_port  # noqa: E402
from tests.support.proxying import Backends, Traffic  # noqa: E402

SIZES = (10, 100, 1000)
EVENTS = 40  # half joins, half leaves
WAITS = ("0.5:5", "0")
SECTION = "registry-churn"
DOCS = ROOT / "docs" / "performance.md"
EVENT_TIMEOUT = 60.0  # seconds one change may take to reach haproxy before the benchmark gives up
NODES_JSON = {"__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd", "run_list": []},
              "api": {"run_list": ["recipe[seatgeek-service::api]"]},
              "www": {"run_list": ["recipe[seatgeek::customer-web]"], "depends_on": ["api"]}}


@dataclass
class Row:
    nodes: int
    wait: str
    latencies: list[float]  # seconds, one per event
    failed: int
    requests: int
    churn_seconds: float
    reloads: int
    phases: dict[str, float]  # seconds, median of a few: where the time of one change goes

    @property
    def events(self) -> int:
        return len(self.latencies)

    def median(self) -> float:
        return statistics.median(self.latencies)

    def p99(self) -> float:
        """Nearest rank: with fewer than 100 events this is the slowest one."""
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, -(-99 * len(ordered) // 100) - 1))]


def measure(etcd: EtcdServer, scratch: Path, nodes: int, events: int, wait: str) -> Row:
    """One size with one --wait: register N nodes, start haproxy and the agent, churn, count."""
    work = scratch / f"{nodes}-{wait.replace(':', '_')}"
    work.mkdir()
    joins = (events + 1) // 2
    names = [f"n{i:04d}" for i in range(nodes)] + [f"c{i:03d}" for i in range(joins)]
    backends = Backends(work / "control", names, work / "backends.log").start()
    registry = Registry.connect(etcd.url, f"/bench-{uuid.uuid4().hex[:8]}")
    port = free_port()
    config = work / "haproxy.cfg"
    variables = {"bind": f"127.0.0.1:{port}"}
    processes: list[subprocess.Popen[bytes]] = []
    master: MasterCLI | None = None
    traffic = Traffic(port, "api")
    try:
        _register(registry, [(name, backends.address(name)) for name in names[:nodes]])
        render(registry.snapshot(), "haproxy.cfg.j2", config, services=["api"], variables=variables)
        master = start(config, work / "master.sock", log=work / "haproxy.log")
        (work / "nodes.json").write_text(json.dumps(NODES_JSON))
        log = open(work / "render.log", "wb")
        processes.append(subprocess.Popen(
            [str(Path(sys.executable).with_name("infra")), "--config", str(work / "nodes.json"), "services:render",
             "haproxy.cfg.j2", "--out", str(config), "--group", "www", "--haproxy", str(work / "master.sock"),
             "--watch", "--wait", wait, "--var", f"bind=127.0.0.1:{port}", "--etcd", etcd.url,
             "--etcd-prefix", registry.layout.root], stdout=log, stderr=log))
        _until(lambda: b"watching" in (work / "render.log").read_bytes(), 30, "the agent to start watching")
        traffic.start()
        time.sleep(1.0)
        began = time.monotonic()
        latencies = []
        for event in range(events):
            name = f"c{event // 2:03d}"
            latencies.append(_join(registry, master, name, backends.address(name)) if event % 2 == 0
                             else _leave(registry, master, name))
            print(f"  {nodes} nodes, --wait {wait}: event {event + 1}/{events}: {latencies[-1] * 1000:.0f} ms",
                  flush=True)
        time.sleep(1.0)  # requests in flight at the last event count too
        ended = time.monotonic()
        reloads = (work / "render.log").read_text().count("reloaded haproxy")
        return Row(nodes, wait, latencies, len(traffic.failures(began, ended)), len(traffic.since(began, ended)),
                   ended - began, reloads, _phases(registry, master, config, variables))
    finally:
        traffic.stop()
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if master is not None:
            master.stop()
        backends.stop()


def _phases(registry: Registry, master: MasterCLI, config: Path, variables: dict[str, str]) -> dict[str, float]:
    """The steps of one change, each timed alone in this process (median of five)."""
    snapshot = registry.snapshot()
    steps = {
        "read the registry (etcd range, parse entries)": registry.snapshot,
        "render the template": lambda: render_text(snapshot, "haproxy.cfg.j2", ["api"], variables),
        "haproxy -c on the candidate": lambda: check_config(config),
        "master-worker reload, until the new worker is listed": master.reload,
    }
    times = {}
    for step, run in steps.items():
        samples = []
        for _ in range(5):
            started = time.monotonic()
            run()
            samples.append(time.monotonic() - started)
        times[step] = statistics.median(samples)
    return times


def _register(registry: Registry, nodes: list[tuple[str, str]]) -> None:
    """Register many nodes quickly: 100 keys per transaction (etcd allows 128 operations in one)."""
    entries = [Entry("api", name, "api", Address.parse(address)) for name, address in nodes]
    for first in range(0, len(entries), 100):
        registry.etcd.put_all([Put(registry.layout.entry_key(e.service, e.node), e.value())
                               for e in entries[first:first + 100]])


def _join(registry: Registry, master: MasterCLI, name: str, address: str) -> float:
    started = time.monotonic()
    registry.notify(group="api", services=["api"], node=name, address=Address.parse(address))
    _until(lambda: master.has_server("api", name), EVENT_TIMEOUT, f"haproxy to serve {name}")
    return time.monotonic() - started


def _leave(registry: Registry, master: MasterCLI, name: str) -> float:
    started = time.monotonic()
    leaving = registry.mark_leaving(name, ["api"])
    _until(lambda: not master.has_server("api", name), EVENT_TIMEOUT, f"haproxy to drop {name}")
    seconds = time.monotonic() - started
    if leaving is not None:
        registry.remove_left(leaving)  # the grace period is over: a change that renders the same file
    return seconds


def _until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.005)


def report(rows: list[Row], info: dict[str, str], seconds: float) -> str:
    lines = [
        "## Service registry: haproxy following etcd",
        "",
        f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), {info['haproxy']}, Python "
        f"{info['python']} (load average {info['load']} at the start: the machine is shared); the whole run took "
        f"{seconds / 60:.0f} minutes. Regenerate this section with "
        f"`.venv/bin/python benchmarks/registry_churn.py` (it rewrites only this section).",
        "",
        "N nodes of one service are registered in a real etcd, each with its own HTTP backend on a loopback "
        "port, and haproxy (master-worker) is fed by the real agent, `infra services:render --watch --haproxy`. "
        "Four clients send requests through haproxy the whole time (two keep-alive, two with a new connection "
        "per request). Churn is one event at a time: a node joins, then leaves gracefully (marked leaving, "
        "as `services:decommission` does). **Latency** is from the etcd write to haproxy's current worker "
        "having the new set (asked through the master CLI every 5 ms); p99 is the nearest rank, with "
        f"{rows[0].events if rows else EVENTS} events the slowest one. With `--wait 0.5:5` (the default) "
        "the agent waits for 0.5 s of quiet first; `--wait 0` shows the pipeline alone: watch, render, "
        "`haproxy -c` on the candidate, swap, master-worker reload.",
        "",
        "| nodes | --wait | events | latency: median | latency: p99 | requests during churn | failed | "
        "failed per event | reloads |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row.nodes:,} | {row.wait} | {row.events} | {row.median() * 1000:.0f} ms | "
                     f"{row.p99() * 1000:.0f} ms | {row.requests:,} | {row.failed} | "
                     f"{row.failed / row.events:.2f} | {row.reloads} |")
    failed, sent = sum(row.failed for row in rows), sum(row.requests for row in rows)
    why = (": a reload hands haproxy's listening sockets to the new worker, the old one answers its keep-alive "
           "clients' next request before closing, and a leaving node is dropped before it goes") if not failed else ""
    lines += ["", f"{failed:,} of the {sent:,} requests sent during churn failed, over "
              f"{sum(row.events for row in rows)} joins and graceful leaves{why}."]
    lines += phase_table([row for row in rows if row.wait == "0"] or rows)
    return "\n".join(lines) + "\n"


def phase_table(rows: list[Row]) -> list[str]:
    """Where the time of one change goes: each step timed alone, after the churn."""
    if not rows:
        return []
    steps = list(rows[0].phases)
    lines = ["", "Where the time of one change goes, each step timed alone (median of five) after the churn; the "
             "rest of a change's latency is etcd's watch notification, the agent's wake-up and the swap:", "",
             "| step | " + " | ".join(f"{row.nodes:,} nodes" for row in rows) + " |",
             "|---|" + "---:|" * len(rows)]
    for step in steps:
        lines.append(f"| {step} | " + " | ".join(f"{row.phases[step] * 1000:.0f} ms" for row in rows) + " |")
    return lines


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    version = subprocess.run([find_binary(), "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "python": sys.version.split()[0],
            "haproxy": version.replace("HAProxy version ", "haproxy ").split(" - ")[0].split(" 20")[0],
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load": f"{os.getloadavg()[0]:.1f}"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--waits", default=",".join(WAITS), help="--wait values for the agent, comma-separated")
    parser.add_argument("--quick", action="store_true", help="10 and 100 nodes, 6 events; writes nothing")
    parser.add_argument("--out", type=Path, default=DOCS)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    if args.quick:
        sizes, args.events, args.no_write = [10, 100], 6, True
    info = machine()
    print(f"registry churn on {info['nproc']} CPU(s) ({info['cpu']}), {info['haproxy']}", flush=True)
    began = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="infra-churn-") as scratch:
        etcd = EtcdServer(Path(scratch) / "etcd")
        etcd.start()
        try:
            for nodes in sizes:
                for wait in args.waits.split(","):
                    rows.append(measure(etcd, Path(scratch), nodes, args.events, wait))
        finally:
            etcd.stop()
    text = report(rows, info, time.monotonic() - began)
    print()
    print(text)
    if not args.no_write:
        page = args.out.read_text() if args.out.exists() else "# Performance\n"
        args.out.write_text(replace_section(page, SECTION, text))
        print(f"wrote the {SECTION} section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
