"""Runs the packer binary: validate and build templates, read its machine-readable output.

Packer's `-machine-readable` output is one event a line, `timestamp,target,type,data...`, with
commas inside data written as `%!(PACKER_COMMA)` and newlines as a literal `\\n`. A build's
`ui` events are what packer would have printed (they become progress lines); its `artifact`
events name what it made (`us-east-1:ami-0123...`); its `error` events say why it failed.

Every call starts its own process, so builds of several groups can run at the same time. Each
runs in a process group of its own: packer is two processes (a monitor and the worker), and an
interrupt or a kill must reach both. infra passes its own interrupts on (see interrupt_builds).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.errors import FileError, ProviderError
from infra.fsutil import MiB, read_text
from infra.providers.endpoint_watch import EndpointWatch
from infra.redact import shown_url
from infra.stopping import pause

Progress = Callable[[str], None]
INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install packer; or https://developer.hashicorp.com/packer)"
# Packer templates that build in AWS; the endpoint settings below apply to these builders.
AMAZON_BUILDERS = ("amazon-ebs", "amazon-ebssurrogate", "amazon-ebsvolume", "amazon-instance", "amazon-chroot")
# Packer's first EC2 calls (the AMI name check, the source AMI look-up) fail with this prefix; the
# name check goes out with retries off. AWS error codes that mean "try again":
EARLY_ERROR = "Error querying AMI: "
TRANSIENT_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "RequestThrottled",
                             "TooManyRequestsException", "ServiceUnavailable", "Unavailable", "InternalError",
                             "InternalFailure"})
EARLY_ATTEMPTS = 3
# What a builder needs to talk to an AWS-compatible endpoint that is not AWS (moto, LocalStack).
OFFLINE_SETTINGS = {"skip_region_validation": True, "skip_credential_validation": True,
                    "skip_metadata_api_check": True, "communicator": "none"}


@dataclass(frozen=True)
class Event:
    """One line of machine-readable output."""

    timestamp: str
    target: str
    type: str
    data: tuple[str, ...]


@dataclass
class BuildResult:
    artifacts: list[str] = field(default_factory=list)  # artifact ids, e.g. "us-east-1:ami-0123abcd"
    errors: list[str] = field(default_factory=list)
    output: list[str] = field(default_factory=list)  # the ui lines, for a failure's context
    timed_out: bool = False
    endpoint_gone: str = ""  # why the endpoint watch stopped the build (endpoint_watch.py)


QUIET_DETAIL = re.compile(r"^\s+\S+: (Adding tag|Modifying|Stopping instance)")


def unescape(value: str) -> str:
    return value.replace("%!(PACKER_COMMA)", ",").replace("\\n", "\n").replace("\\r", "\r")


def parse_event(line: str) -> Event | None:
    """An Event from one machine-readable line; None for anything else (log lines, blank lines)."""
    fields = line.rstrip("\r\n").split(",")
    if len(fields) < 3 or not fields[0].isdigit():
        return None
    return Event(fields[0], fields[1], fields[2], tuple(unescape(f) for f in fields[3:]))


def ui_lines(event: Event) -> list[str]:
    """The lines a `ui` event shows a person (packer's say/message/error), without blank ones."""
    if event.type != "ui" or len(event.data) < 2:
        return []
    return [line.rstrip() for line in event.data[1].splitlines() if line.strip()]


def binary() -> str:
    found = shutil.which("packer")
    if found is None:
        raise ProviderError(f"packer is not installed or not on PATH: {INSTALL_HINT}")
    return found


def build(template: Path, variables: Mapping[str, str], *, cwd: Path, env: Mapping[str, str],
          progress: Progress, timeout: float = 3600, endpoint: str | None = None) -> BuildResult:
    """Run `packer build` on `template`, showing its progress; raise ProviderError when it fails,
    when it has not finished within `timeout` seconds, or when `endpoint` (the AWS endpoint the
    template calls) stops answering meanwhile (then it is stopped).

    Packer sends its first EC2 call (the AMI name check) with its retries turned off, so one
    throttled or 5xx answer to it fails the build before anything is made; such a build is
    started again after a pause, as an SDK would retry the call.
    """
    deadline = time.monotonic() + timeout
    for attempt in range(1, EARLY_ATTEMPTS + 1):
        result, returncode = _run_build(template, variables, cwd=cwd, env=env, progress=progress,
                                        timeout=max(deadline - time.monotonic(), 0.0), endpoint=endpoint)
        if result.endpoint_gone:
            raise ProviderError(f"the AWS endpoint {shown_url(endpoint or '')} stopped answering during the packer "
                                f"build ({result.endpoint_gone}); packer was stopped; what it had made so far is "
                                f"removed by the next apply")
        if result.timed_out:
            raise ProviderError(f"packer build did not finish within {timeout:g}s (build_timeout), during: "
                                f"{result.output[-1] if result.output else 'its start'}; it was stopped, and what "
                                f"it had made so far is removed by the next apply")
        if returncode == 0 or attempt == EARLY_ATTEMPTS or not refused_before_making_anything(result):
            break
        delay = attempt * random.uniform(0.5, 1.5)
        progress(f"packer's first AWS call was refused ({failure(result)}); nothing was made yet, "
                 f"building again in {delay:.1f}s")
        if not pause(delay):
            raise ProviderError("infra was stopped (Ctrl-C or SIGTERM) before packer's build was started again")
    if returncode < 0:  # killed (the OOM killer, a kill -9): its last lines are not the reason
        raise ProviderError(f"packer build was killed by {_signal_name(-returncode)} during: "
                            f"{result.output[-1] if result.output else 'its start'}; what it had made so far "
                            f"(a build instance, a key pair) may be left over")
    if returncode != 0:
        raise ProviderError(f"packer build failed: {failure(result)}")
    if not result.artifacts:
        raise ProviderError(f"packer build of {template.name} finished but named no artifact; does the template "
                            f"have a builder?")
    return result


def refused_before_making_anything(result: BuildResult) -> bool:
    """The build failed on its first look-up of AMIs, with an error AWS says to retry (throttling, 5xx)."""
    first = result.errors[0] if result.errors else ""
    if not first.startswith(EARLY_ERROR):
        return False
    code = first.removeprefix(EARLY_ERROR).split(":", 1)[0].strip()
    return code in TRANSIENT_CODES or re.search(r"status code: 5\d\d", first) is not None


_live: set[subprocess.Popen] = set()  # the packer builds running now, for interrupt_builds()
_live_lock = threading.Lock()
# Seconds packer gets to clean up after an interrupt before it is killed. Against a dead endpoint
# its clean-up retries for minutes; what it leaves is removed by the next apply (build leftovers).
GRACE = 10.0


def interrupt_builds() -> None:
    """Interrupt every running build the way Ctrl-C would (packer then removes what it made so far:
    build instance, key pair), and kill those still running GRACE seconds later."""
    with _live_lock:
        running = list(_live)
    for process in running:
        _interrupt(process)


def _interrupt(process: subprocess.Popen) -> None:
    """SIGINT to the build's process group now, SIGKILL to what is left of it after GRACE."""
    if process.poll() is not None or not _signal(process, signal.SIGINT):
        return
    killer = threading.Timer(GRACE, lambda: _signal(process, signal.SIGKILL))
    killer.daemon = True
    killer.start()


def _signal(process: subprocess.Popen, signum: int) -> bool:
    """Send `signum` to the build's whole process group; False when there is none left."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _run_build(template: Path, variables: Mapping[str, str], *, cwd: Path, env: Mapping[str, str],
               progress: Progress, timeout: float, endpoint: str | None) -> tuple[BuildResult, int]:
    command = [binary(), "build", "-machine-readable", *_var_args(variables), str(template)]
    result = BuildResult()
    try:
        process = subprocess.Popen(command, cwd=cwd, env=_quiet(env), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
                                   start_new_session=True)
    except OSError as exc:
        raise ProviderError(f"cannot run packer: {exc.strerror}; {INSTALL_HINT}") from None
    assert process.stdout is not None
    show = _Shown(progress)
    with _live_lock:
        _live.add(process)

    def time_out() -> None:
        result.timed_out = True
        _interrupt(process)

    def endpoint_gone(reason: str) -> None:
        result.endpoint_gone = reason
        _interrupt(process)

    timer = threading.Timer(timeout, time_out)
    timer.daemon = True
    timer.start()
    watch = EndpointWatch(endpoint, endpoint_gone) if endpoint else contextlib.nullcontext()
    try:
        with watch, process:
            try:
                for line in process.stdout:
                    _take(line, result, show)
            except BaseException:
                _stop(process)  # packer cleans up (instance, key pair, half-made AMI) on an interrupt
                raise
    finally:
        timer.cancel()
        with _live_lock:
            _live.discard(process)
    return result, process.returncode


def validate(template: Path, variables: Mapping[str, str] = {}, *, cwd: Path,
             env: Mapping[str, str] | None = None) -> None:
    """Run `packer validate`; raise ProviderError with packer's complaints when the template is invalid."""
    command = [binary(), "validate", *_var_args(variables), str(template)]
    try:
        done = subprocess.run(command, cwd=cwd, env=_quiet(env), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True)
    except OSError as exc:
        raise ProviderError(f"cannot run packer: {exc.strerror}; {INSTALL_HINT}") from None
    if done.returncode != 0:
        problems = [line.lstrip("* ").strip() for line in (done.stdout + done.stderr).splitlines()
                    if line.strip().startswith("* ")]
        detail = "; ".join(problems) or " ".join((done.stdout + done.stderr).split())
        raise ProviderError(f"{template}: packer validate failed: {detail}")


def failure(result: BuildResult) -> str:
    """The clearest one-line reason a build failed: packer's first error, without AWS request noise."""
    errors = result.errors or [line for line in result.output if "error" in line.lower()] or result.output[-3:]
    if not errors:
        return "packer exited with an error and printed nothing"
    first = errors[0].strip().splitlines()
    return first[0].strip() if first else errors[0]


def declared_variables(template: Mapping[str, Any]) -> set[str]:
    variables = template.get("variables")
    return set(variables) if isinstance(variables, dict) else set()


def for_endpoint(template: Mapping[str, Any], endpoint_url: str, *, offline: bool) -> tuple[dict[str, Any], list[str]]:
    """A copy of `template` whose AWS builders call `endpoint_url`, and notes saying what changed.

    `offline` (the endpoint is not AWS itself, e.g. the moto sandbox): no instance really boots,
    so the builders use `communicator: none` and the provisioners, which need one, are removed.
    """
    derived = dict(template)  # what changes is copied (the AWS builders, the top level), the rest shared
    if isinstance(derived.get("builders"), list):
        derived["builders"] = [dict(b) if _is_aws(b) else b for b in derived["builders"]]
    builders = [b for b in derived.get("builders", []) if _is_aws(b)]
    for builder in builders:
        builder["custom_endpoint_ec2"] = endpoint_url
        if offline:
            builder.update(OFFLINE_SETTINGS)
    notes = [f"the EC2 endpoint is {shown_url(endpoint_url)}: building from a temporary copy of the template with "
             f"custom_endpoint_ec2" + (", communicator none and the skip_* validation flags" if offline else "")]
    provisioners = derived.get("provisioners") or []
    if offline and provisioners:
        kinds = ", ".join(sorted({str(p.get("type", "?")) for p in provisioners if isinstance(p, dict)}))
        notes.append(f"that endpoint is not AWS, so nothing boots: the {len(provisioners)} provisioner(s) "
                     f"({kinds}) are left out of this build")
        del derived["provisioners"]
    return derived, notes


def _is_aws(builder: Any) -> bool:
    return isinstance(builder, dict) and builder.get("type") in AMAZON_BUILDERS


def load_template(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(read_text(path, limit=64 * MiB, what="a packer template"))
    except FileNotFoundError:
        raise ProviderError(f"{path}: no such packer template") from None
    except FileError as exc:
        raise ProviderError(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise ProviderError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict):
        raise ProviderError(f"{path}: a packer template is a JSON object")
    return document


def _take(line: str, result: BuildResult, progress: Progress) -> None:
    event = parse_event(line)
    if event is None:
        if line.strip():
            result.output.append(line.strip())
            progress(line.strip())
        return
    # Every ui line is kept for a failure's context; the tag-by-tag details are not shown.
    for shown in ui_lines(event):
        result.output.append(shown)
        if not QUIET_DETAIL.search(shown):
            progress(shown)
    if event.type == "artifact" and len(event.data) >= 3 and event.data[1] == "id":
        result.artifacts.append(event.data[2])
    elif event.type == "error" and event.target and event.data:
        result.errors.append(event.data[0])


class _Shown:
    """Progress that cannot stop a build: when showing fails (a closed terminal), packer still finishes
    and tags its AMI; an AMI left untagged would be invisible to infra."""

    def __init__(self, progress: Progress) -> None:
        self.progress, self.broken = progress, False

    def __call__(self, message: str) -> None:
        if self.broken:
            return
        try:
            self.progress(message)
        except Exception:
            self.broken = True


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    _signal(process, signal.SIGINT)
    try:
        process.wait(timeout=GRACE)
    except subprocess.TimeoutExpired:
        _signal(process, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _var_args(variables: Mapping[str, str]) -> Iterable[str]:
    for name, value in variables.items():
        yield from ("-var", f"{name}={value}")


def _quiet(env: Mapping[str, str] | None) -> dict[str, str]:
    """No update check against checkpoint.hashicorp.com on every run; no colour codes in output."""
    return {**(os.environ if env is None else env), "CHECKPOINT_DISABLE": "1", "PACKER_NO_COLOR": "1"}
