"""What the GitHub Action (action.yml) runs: `python -m infra.ci.action`.

It runs one infra command (plan, apply, drift or usage; in an environment when one is given) as a
user would, keeps ONE pull-request comment up to date with its Markdown report (found again by a
hidden marker naming the command and environment), writes the step's outputs, and decides the
job: it fails on an error only (infra's exit 1), never because there are changes or drift (2).

Its inputs are environment variables that action.yml sets from the action's inputs (INFRA_*), and
those every GitHub job has (GITHUB_OUTPUT, GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL...).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.ci.github import GitHub, GitHubError

COMMANDS = ("plan", "apply", "drift", "usage")
# Exit codes that are no error: 2 is changes (drift, nodes idle or saturated), 3 an environment
# waiting for the one it promotes from to build, 4 a roll stopped at a manual pause as asked (docs/ci.md).
NOT_ERRORS = (0, 2, 3, 4)
MAX_COMMENT = 60_000  # GitHub refuses a comment past 65,536 characters
LOG_LINES = 300  # of an apply's output, in its comment


class InputError(Exception):
    """An input of the action that cannot work, as one line."""


@dataclass(frozen=True)
class Inputs:
    command: str
    environment: str = ""
    args: list[str] = field(default_factory=list)
    comment: bool = True
    token: str = ""

    @classmethod
    def from_environment(cls, env: dict[str, str]) -> Inputs:
        command = env.get("INFRA_COMMAND", "plan").strip() or "plan"
        if command not in COMMANDS:
            raise InputError(f"input command {command!r}: use one of {', '.join(COMMANDS)}")
        comment = env.get("INFRA_COMMENT", "true").strip().lower()
        if comment not in ("true", "false", ""):
            raise InputError(f"input comment {comment!r}: use true or false")
        try:
            args = shlex.split(env.get("INFRA_ARGS", ""))
        except ValueError as exc:
            raise InputError(f"input args: {exc}") from None
        return cls(command=command, environment=env.get("INFRA_ENVIRONMENT", "").strip(), args=args,
                   comment=comment != "false", token=env.get("GITHUB_TOKEN", ""))

    @property
    def marker(self) -> str:
        """What the comment carries, unseen, so the next run updates it instead of adding one."""
        return f"<!-- infra-{self.command}:{self.environment or 'default'} -->"


@dataclass
class Outcome:
    code: int
    report: str  # Markdown
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.code not in NOT_ERRORS


def command_line(inputs: Inputs, plan_file: Path) -> list[str]:
    """The infra command to run: its report as Markdown; a plan also saved, for its counts (and
    for a later `infra apply FILE`)."""
    base = [sys.executable, "-m", "infra", *(["--env", inputs.environment] if inputs.environment else [])]
    if inputs.command == "plan":
        return [*base, "plan", "--detailed-exitcode", "--output", "markdown", "--out", str(plan_file), *inputs.args]
    if inputs.command == "apply":
        return [*base, "apply", "--auto-approve", *inputs.args]
    return [*base, inputs.command, "--output", "markdown", *inputs.args]


def run(inputs: Inputs, plan_file: Path) -> Outcome:
    """Run the command; what it prints on stderr goes to the job's log as it is."""
    done = subprocess.run(command_line(inputs, plan_file), capture_output=True, text=True)
    sys.stderr.write(done.stderr)
    if inputs.command == "apply":
        sys.stdout.write(done.stdout)
        return Outcome(done.returncode, _apply_report(done.returncode, done.stdout + done.stderr))
    if done.returncode not in NOT_ERRORS:
        return Outcome(done.returncode, _failure_report(inputs.command, done.returncode, done.stderr))
    if done.returncode == 3:  # waits for the environment it promotes from: said on stderr, nothing on stdout
        return Outcome(3, _stderr_report(f"### infra {inputs.command}: waits for the environment before it",
                                         done.stderr))
    counts = _counts(plan_file) if inputs.command == "plan" else {}
    return Outcome(done.returncode, done.stdout.rstrip("\n"), counts)


def _counts(plan_file: Path) -> dict[str, int]:
    """The plan's counts, from the saved plan's `summary` (docs/plan-json.md)."""
    try:
        summary = json.loads(plan_file.read_text()).get("summary") or {}
    except (OSError, ValueError):
        return {}
    return {key: int(value) for key, value in summary.items() if isinstance(value, int)}


def _apply_report(code: int, log: str) -> str:
    lines = log.rstrip("\n").splitlines()
    cut = [f"... ({len(lines) - LOG_LINES} lines before these)"] if len(lines) > LOG_LINES else []
    verdict = {0: "done", 4: "a roll is paused, as asked (exit 4): infra rollout promote goes on"}.get(
        code, f"failed (exit {code})")
    last = next((line for line in reversed(lines) if line.strip()), "")
    return "\n".join([f"### infra apply: {verdict}", "", last, "", "<details><summary>Output</summary>", "",
                      "```text", *cut, *lines[-LOG_LINES:], "```", "", "</details>"])


def _failure_report(command: str, code: int, errors: str) -> str:
    return _stderr_report(f"### infra {command}: failed (exit {code})", errors)


def _stderr_report(headline: str, errors: str) -> str:
    tail = errors.strip().splitlines()[-20:] or ["(nothing on stderr)"]
    return "\n".join([headline, "", "```text", *tail, "```"])


def comment_body(inputs: Inputs, outcome: Outcome, env: dict[str, str]) -> str:
    """The comment: the marker, the environment, the report (cut to fit), and which run made it."""
    report = outcome.report
    if len(report) > MAX_COMMENT:
        report = report[:MAX_COMMENT] + "\n\n_Cut here: the whole report is in the job's summary._"
    where = [f"**Environment:** `{inputs.environment}`", ""] if inputs.environment else []
    run_url = ""
    if env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        run_url = (f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}/actions/runs/"
                   f"{env['GITHUB_RUN_ID']}")
    commit = _event(env).get("pull_request", {}).get("head", {}).get("sha") or env.get("GITHUB_SHA", "")
    made = " ".join(filter(None, [f"for {commit[:7]}" if commit else "", f"in [this run]({run_url})" if run_url
                                  else ""]))
    return "\n".join([inputs.marker, *where, report, "", f"<sub>infra {inputs.command} {made}</sub>".rstrip()])


def pull_request_number(env: dict[str, str]) -> int | None:
    """The pull request the job runs for (pull_request events, and comments on one), else None."""
    event = _event(env)
    number = (event.get("pull_request") or {}).get("number")
    if number is None and (event.get("issue") or {}).get("pull_request"):
        number = event["issue"].get("number")
    return int(number) if number is not None else None


def _event(env: dict[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text()) if path else {}
    except (OSError, ValueError):
        return {}
    return event if isinstance(event, dict) else {}


def outputs_of(outcome: Outcome, report_file: Path, plan_file: Path | None, comment_url: str) -> dict[str, str]:
    counts = outcome.counts
    return {"exit-code": str(outcome.code), "has-changes": "true" if outcome.code in (2, 3) else "false",
            "add": str(counts.get("add", 0)), "change": str(counts.get("change", 0)),
            "destroy": str(counts.get("destroy", 0)), "build": str(counts.get("build", 0)),
            "report": str(report_file), "plan-file": str(plan_file) if plan_file else "",
            "comment-url": comment_url}


def write_outputs(outputs: dict[str, str], env: dict[str, str]) -> None:
    """Append `name=value` lines to $GITHUB_OUTPUT (values are one line each)."""
    path = env.get("GITHUB_OUTPUT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as file:
        file.writelines(f"{name}={value}\n" for name, value in outputs.items())


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    try:
        inputs = Inputs.from_environment(env)
    except InputError as exc:
        print(f"::error::{exc}")
        return 1
    folder = Path(env.get("RUNNER_TEMP") or tempfile.gettempdir())
    name = f"infra-{inputs.command}{'-' + inputs.environment if inputs.environment else ''}"
    plan_file = folder / f"{name}.plan" if inputs.command == "plan" else None
    outcome = run(inputs, plan_file or folder / f"{name}.unused")
    report_file = folder / f"{name}.md"
    report_file.write_text(outcome.report + "\n", encoding="utf-8")
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(outcome.report + "\n\n")
    comment_url, comment_failed = _comment(inputs, outcome, env)
    write_outputs(outputs_of(outcome, report_file, plan_file if plan_file and plan_file.exists() else None,
                             comment_url), env)
    if outcome.failed:
        print(f"::error::infra {inputs.command} failed (exit {outcome.code}); its error is above")
    return 1 if outcome.failed or comment_failed else 0


def _comment(inputs: Inputs, outcome: Outcome, env: dict[str, str]) -> tuple[str, bool]:
    """Post or update the pull request's comment: (its URL, whether that failed)."""
    if not inputs.comment:
        return "", False
    number = pull_request_number(env)
    if number is None:
        print("infra action: not a pull request, so no comment (the report is in the job's summary)")
        return "", False
    if not inputs.token or not env.get("GITHUB_REPOSITORY"):
        print("::error::no token to comment with: set the action's github-token input, or comment: false")
        return "", True
    github = GitHub(env.get("GITHUB_API_URL") or "https://api.github.com", env["GITHUB_REPOSITORY"], inputs.token)
    try:
        done, url = github.upsert_comment(number, inputs.marker, comment_body(inputs, outcome, env))
    except GitHubError as exc:
        print(f"::error::{exc}")
        return "", True
    print(f"infra action: {done} the comment on pull request #{number}: {url}")
    return url, False


if __name__ == "__main__":
    sys.exit(main())
