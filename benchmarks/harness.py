"""What the plan and apply benchmarks run on: one moto server behind one counting proxy, a fake
packer, and a fresh ops repository per measurement; every command a child process, measured from outside.

A run's figures (launch.py starts it and tells them): wall time, the child's peak resident memory,
its CPU (and that of the processes it waited for), moto's CPU meanwhile, the AWS requests counted at
the proxy, and the machine's load average when it started (the machine is shared: other work slows a
run down, and the report says how loaded it was).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

import fleet  # noqa: E402
from fake_packer import PackerService  # noqa: E402
from replay import Recorder  # noqa: E402

from infra.sandbox.launcher import MotoServer  # noqa: E402
from tests.support.aws_proxy import CountingProxy  # noqa: E402

PLAN_TIMEOUT = 300.0  # seconds one infra plan may take before the benchmark gives up
APPLY_TIMEOUT = 1800.0


@dataclass
class Run:
    seconds: float
    peak_mb: float
    requests: Counter
    exit_code: int
    output: str = ""
    cpu: float = 0.0  # CPU seconds of the command and the processes it ran (packer's client)
    moto_cpu: float = 0.0  # CPU seconds moto spent meanwhile
    load: float = 0.0  # the machine's 1-minute load average when it started
    spread: float = 0.0  # of several runs (this one their median): slowest minus fastest, seconds
    written: int = 0  # bytes the command wrote to the file system (launch.py)
    output_bytes: int = 0  # of its output (a plan's: its report), of which `output` keeps the end

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


def load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time, knowing how far apart they all were."""
    chosen = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    chosen.spread = max(r.seconds for r in runs) - min(r.seconds for r in runs)
    return chosen


class Bench:
    def __init__(self, scratch: Path, every_asg: bool = True) -> None:
        self.scratch, self.every_asg = scratch, every_asg
        self.server = MotoServer(scratch / "moto").start([fleet.SOURCE_AMI], security_groups=fleet.SECURITY_GROUPS)
        self.proxy = CountingProxy(self.server.port)
        self.packer = PackerService()
        self.loads: list[float] = []  # the load average at the start of every run
        infra = Path(sys.executable).with_name("infra")
        self.infra = [str(infra)] if infra.exists() else [sys.executable, "-c", "from infra.cli import main; main()"]

    def close(self) -> None:
        self.packer.close()
        self.proxy.close()
        self.server.stop()

    def reset(self) -> None:
        """An empty moto (the source AMI and security groups seeded again)."""
        request = urllib.request.Request(f"{self.server.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=60).close()
        self.proxy.reset()

    def repository(self, name: str, groups: int, regions: int = 1) -> Path:
        root = self.scratch / name
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        (root / "nodes.json").write_text(json.dumps(fleet.nodes_json(groups, regions, self.every_asg), indent=2)
                                         + "\n")
        return root

    def env(self, endpoint: Any = None) -> dict[str, str]:
        # Without PYTHONDONTWRITEBYTECODE: infra's modules compiled once, as an installed infra is, not every run.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AWS_", "INFRA_")) and k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"AWS_ENDPOINT_URL": (endpoint or self.proxy).endpoint_url, "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", **self.packer.environment()})
        return env

    def run(self, root: Path, command: list[str], *, timeout: float, delay: float = 0.0, endpoint: Any = None) -> Run:
        """Run one command to its end, every AWS request `delay` seconds slower; through the counting
        proxy in front of moto, or `endpoint` (a replay.Recorder or replay.Replay)."""
        endpoint = endpoint or self.proxy
        endpoint.reset()
        endpoint.delay = delay
        output = root / "output.txt"
        moto_before = self.moto_cpu()
        load = load_average()
        self.loads.append(load)
        report, into = os.pipe()
        try:
            with open(output, "w") as sink:
                process = subprocess.Popen([sys.executable, "-S", str(HERE / "launch.py"), str(into), *command],
                                           cwd=root, env=self.env(endpoint), stdin=subprocess.DEVNULL, stdout=sink,
                                           stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(into,))
                os.close(into)
                watchdog = threading.Timer(timeout, _kill_group, (process.pid,))
                watchdog.start()
                try:
                    process.wait()
                finally:
                    watchdog.cancel()
            with os.fdopen(report) as launched:
                told = launched.read().split()
        finally:
            endpoint.delay = 0.0
        if process.returncode != 0 or len(told) != 5:
            raise SystemExit(f"{' '.join(command)} in {root} took more than {timeout:.0f}s and was stopped"
                             if process.returncode < 0 else f"benchmarks/launch.py failed to run {command[0]}")
        code = os.waitstatus_to_exitcode(int(told[0]))
        if code < 0:
            raise SystemExit(f"{' '.join(command)} in {root} was killed by signal {-code}")
        return Run(seconds=float(told[3]), peak_mb=int(told[1]) / 1024, requests=endpoint.reset(), exit_code=code,
                   output=output.read_text(errors="replace"), cpu=float(told[2]),
                   moto_cpu=self.moto_cpu() - moto_before, load=load, written=int(told[4]))

    def moto_cpu(self) -> float:
        """CPU seconds the moto server has used so far (Linux: /proc)."""
        try:
            fields = Path(f"/proc/{self.server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def plan(self, root: Path, *, expect: int, repeats: int, delay: float = 0.0, output: str = "text",
             endpoint: Any = None) -> Run:
        """The median of `repeats` plans (by wall time), each checked for the expected exit code."""
        runs = []
        for _ in range(repeats):
            run = self.run(root, [*self.infra, "plan", "--detailed-exitcode", "--output", output],
                           timeout=PLAN_TIMEOUT, delay=delay, endpoint=endpoint)
            if run.exit_code != expect:
                raise SystemExit(f"infra plan in {root} exited {run.exit_code}, expected {expect}:\n"
                                 + "\n".join(run.output.splitlines()[-20:]))
            run.output_bytes, run.output = len(run.output), run.output[-4000:]  # a report is up to 80 MB
            runs.append(run)
        return median_run(runs)

    def phases(self, root: Path, *, repeats: int, delay: float = 0.0, endpoint: Any = None) -> dict:
        """Where one plan's time goes (phases.py), the median of `repeats` by total time."""
        answers = []
        for _ in range(repeats):
            run = self.run(root, [sys.executable, str(HERE / "phases.py")], timeout=PLAN_TIMEOUT, delay=delay,
                           endpoint=endpoint)
            if run.exit_code != 0:
                raise SystemExit(f"phases.py in {root} exited {run.exit_code}:\n{run.output[-2000:]}")
            answer = json.loads(run.output)
            answer["moto_cpu"] = run.moto_cpu  # phases.py asks AWS only while it observes
            answers.append(answer)
        return sorted(answers, key=lambda a: a["phases"]["total"])[len(answers) // 2]

    def apply(self, root: Path, parallelism: int, packer_seconds: float, delay: float = 0.0) -> Run:
        self.packer.seconds = packer_seconds
        self.packer.reset()
        run = self.run(root, [*self.infra, "apply", "--auto-approve", "--parallelism", str(parallelism)],
                       timeout=APPLY_TIMEOUT, delay=delay)
        if run.exit_code != 0:
            raise SystemExit(f"infra apply in {root} exited {run.exit_code}:\n"
                             + "\n".join(run.output.splitlines()[-30:]))
        return run

    def recorder(self) -> Recorder:
        """A loopback proxy to moto that keeps every answer, for a Replay of them (replay.py)."""
        return Recorder(self.server.port)

    def baseline(self, root: Path, *, repeats: int, delay: float = 0.0, endpoint: Any = None) -> tuple[Run, dict]:
        """The per-resource refresh (per_resource.py) of what infra made in `root`: the median of `repeats`."""
        runs, answers = [], {}
        for _ in range(repeats):
            run = self.run(root, [sys.executable, str(HERE / "per_resource.py"), str(root)], timeout=APPLY_TIMEOUT,
                           delay=delay, endpoint=endpoint)
            if run.exit_code != 0:
                raise SystemExit(f"per_resource.py in {root} exited {run.exit_code}:\n{run.output[-2000:]}")
            answers[id(run)] = json.loads(run.output)
            runs.append(run)
        chosen = median_run(runs)
        return chosen, answers[id(chosen)]


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def machine() -> dict[str, str]:
    cpu = memory = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    import moto

    return {"nproc": str(os.cpu_count()), "cpu": cpu, "memory": memory, "python": platform.python_version(),
            "moto": moto.__version__, "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}


def cpu_speed(repeats: int = 5) -> float:
    """CPU seconds of a fixed pure-Python workload (JSON text in and out, dicts, strings: what a plan
    does), the least of `repeats` runs. The host's speed varies over a day (the same code has measured
    1.5 to 1.8 times slower at some hours than at others): a page's figures compare with another's
    at the ratio of their speeds, not as they are."""
    document = {f"group-{n}": {"name": f"web-{n}", "sizes": list(range(8)), "on": n % 2 == 0, "ami": None}
                for n in range(2000)}
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(50):
            copied = json.loads(json.dumps(document))
            sum(len(key) + len(item["name"]) + sum(item["sizes"]) for key, item in copied.items())
        best = min(best, time.process_time() - started)
    return best


def load_summary(loads: list[float]) -> str:
    if not loads:
        return "not measured"
    return f"median {median(loads):.1f}, highest {max(loads):.1f}"
