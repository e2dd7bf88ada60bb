"""A `packer` for the failure tests: runs the real packer, and breaks or stalls a build on request.

Tests put a shim named `packer` first on PATH (see `install`) that runs this file. It finds the
group from the template infra hands it (`infra-packer-<group>-<random>.json`, the temporary copy
made for the sandbox endpoint) and obeys files in the control folder
(`INFRA_TEST_PACKER_CONTROL`), so a test can change its behaviour between two runs:

| file                 | what the wrapper does for a build of GROUP                                        |
| -------------------- | --------------------------------------------------------------------------------- |
| `gate`               | before packer starts: touch `waiting-GROUP`, wait for `release`                    |
| `kill-GROUP` (text)  | when packer prints a line holding that text: SIGKILL packer, then itself (as if   |
|                      | the OOM killer took it)                                                           |
| `hold-GROUP`         | after packer succeeded (the AMI exists and is tagged): touch `built-GROUP`, wait  |
|                      | for `release` (a test kills the apply there)                                      |
| `pause-GROUP` (text) | when packer prints a line holding that text: stop packer's processes (SIGSTOP)    |
|                      | where they are, touch `paused-GROUP`, and wait (a test kills the apply there)      |

infra runs packer (here: the wrapper, and packer under it) in a process group of its own and
signals that group; each wrapper writes its group's id to `pgid-GROUP-N`, so a test that kills
an apply can kill what is left of its builds (see kill_builds).

Every build is logged: its group is appended to `builds`, the template it was given is copied
to `template-GROUP-N.json` and its command line to `args-GROUP-N.txt`, so a test can look at
what packer saw.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REAL_PACKER = "/usr/bin/packer"
WAIT_LIMIT = 120.0  # never hang a test run forever when a test died before releasing


def install(bin_dir: Path, control: Path) -> dict[str, str]:
    """Write the `packer` shim into `bin_dir`; returns the environment changes that make it used."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    control.mkdir(parents=True, exist_ok=True)
    shim = bin_dir / "packer"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    shim.chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", "INFRA_TEST_PACKER_CONTROL": str(control)}


def group_of(template: str) -> str:
    stem = Path(template).name.removesuffix(".json").removeprefix("infra-packer-")
    return stem.rsplit("-", 1)[0]  # mkstemp's random part never holds a "-"


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + WAIT_LIMIT
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"packer wrapper: gave up waiting for {path}")
        time.sleep(0.02)


def touch(path: Path) -> None:
    path.write_text(str(os.getpid()))


def _descendants(pid: int) -> list[int]:
    """Every process under `pid` (packer's monitor and its worker), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], list(children.get(pid, []))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child, []))
    return found


def kill_builds(control: Path) -> None:
    """SIGKILL every build's process group the wrapper ran (a test's kill -9 of an apply and its builds)."""
    for record in control.glob("pgid-*"):
        try:
            os.killpg(int(record.read_text()), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            pass


def main(args: list[str]) -> int:
    real = os.environ.get("INFRA_TEST_REAL_PACKER", REAL_PACKER)
    if not args or args[0] != "build":
        os.execv(real, [real, *args])
    control = Path(os.environ["INFRA_TEST_PACKER_CONTROL"])
    group = group_of(args[-1])
    with (control / "builds").open("a") as log:
        log.write(group + "\n")
    copies = len(list(control.glob(f"template-{group}-*.json")))
    shutil.copy(args[-1], control / f"template-{group}-{copies + 1}.json")
    (control / f"args-{group}-{copies + 1}.txt").write_text("\n".join(args) + "\n")
    if (control / "gate").exists():
        touch(control / f"waiting-{group}")
        wait_for(control / "release")

    (control / f"pgid-{group}-{copies + 1}").write_text(str(os.getpgid(0)))
    kill_file, pause_file = control / f"kill-{group}", control / f"pause-{group}"
    trigger = kill_file.read_text().strip() if kill_file.exists() else None
    pause = pause_file.read_text().strip() if pause_file.exists() else None
    process = subprocess.Popen([real, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # packer, in the same group, gets it and decides
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if trigger and trigger in line:
            process.kill()
            process.wait()
            os.kill(os.getpid(), signal.SIGKILL)
        if pause and pause in line:
            for pid in _descendants(os.getpid()):
                os.kill(pid, signal.SIGSTOP)
            touch(control / f"paused-{group}")
            time.sleep(WAIT_LIMIT)
    code = process.wait()
    if code == 0 and (control / f"hold-{group}").exists():
        touch(control / f"built-{group}")
        wait_for(control / "release")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
