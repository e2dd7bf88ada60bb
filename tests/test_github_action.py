"""The GitHub Action (action.yml) run as a runner would run its steps: the step's script from
action.yml, its environment from the action's inputs, against a stand-in for GitHub's API on
127.0.0.1 (tests/support/fake_github.py). Here on local files only; on the sandbox's AWS in
tests/integration/test_github_action_sandbox.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import LOCAL
from tests.support.fake_github import FakeGitHub

ROOT = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
PULL_REQUEST = {"pull_request": {"number": 7, "head": {"sha": "0123456789abcdef"}}}


def step(step_id: str | None = None, name: str | None = None) -> dict:
    return next(s for s in ACTION["runs"]["steps"]
                if (step_id is not None and s.get("id") == step_id) or (name is not None and s.get("name") == name))


def with_inputs(text: str, given: dict[str, str]) -> str:
    """`text` with `${{ inputs.NAME }}` as the runner fills it in: what was given, else the default."""
    values = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    values["github-token"] = "test-token"  # the default is the job's token
    values.update(given)
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: values[m[1]], text)


def run_action(repo: Path, github: FakeGitHub | None, given: dict[str, str], event: dict | None = None,
               tmp: Path | None = None) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run the action's `run` step in `repo`: (the process, the outputs it wrote, last value of each)."""
    tmp = tmp or repo.parent
    run = step("run")
    event_file, outputs = tmp / "event.json", tmp / "outputs.txt"
    event_file.write_text(json.dumps(event if event is not None else PULL_REQUEST))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GITHUB_REPOSITORY": "acme/ops", "GITHUB_EVENT_PATH": str(event_file), "GITHUB_OUTPUT": str(outputs),
           "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"), "RUNNER_TEMP": str(tmp), "GITHUB_RUN_ID": "42",
           "GITHUB_SERVER_URL": "https://github.test"}
    if github is not None:
        env["GITHUB_API_URL"] = github.url
    env.update({key: with_inputs(str(value), given) for key, value in run["env"].items()})
    for inherited in ("INFRA_CONFIG", "INFRA_ENV"):
        env.pop(inherited, None)
    done = subprocess.run(["bash", "-c", run["run"]], cwd=repo / with_inputs(run["working-directory"], given),
                          env=env, capture_output=True, text=True, timeout=300)
    written: dict[str, str] = {}
    if outputs.exists():
        for line in outputs.read_text().splitlines():
            name, _, value = line.partition("=")
            written[name] = value
    return done, written


@pytest.fixture
def github():
    server = FakeGitHub()
    yield server
    server.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    ops = tmp_path / "checkout" / "ops"
    ops.mkdir(parents=True)
    (ops / "nodes.json").write_text(json.dumps(LOCAL, indent=2))
    return tmp_path / "checkout"


def test_every_output_comes_from_the_run_step_and_every_input_reaches_a_step():
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    used = json.dumps(ACTION["runs"]["steps"])
    assert all(f"inputs.{name}" in used for name in ACTION["inputs"])


def test_a_plan_with_changes_posts_one_comment_then_updates_it_and_passes(repo, github):
    done, outputs = run_action(repo, github, {"working-directory": "ops"})
    assert done.returncode == 0, done.stdout + done.stderr  # changes are no failure
    assert outputs["exit-code"] == "2" and outputs["has-changes"] == "true"
    assert (outputs["add"], outputs["change"], outputs["destroy"]) == ("2", "0", "0")
    [comment] = github.on(7)
    assert comment["body"].startswith("<!-- infra-plan:default -->\n### infra plan: Plan: 2 to add, 0 to change")
    assert "<sub>infra plan for 0123456 in [this run](https://github.test/acme/ops/actions/runs/42)</sub>" \
        in comment["body"]
    assert outputs["comment-url"] == comment["html_url"]
    assert Path(outputs["report"]).read_text().startswith("### infra plan: Plan: 2 to add")
    assert json.loads(Path(outputs["plan-file"]).read_text())["summary"]["add"] == 2
    assert all(r.authorization == "Bearer test-token" for r in github.requests)

    apply = run_action(repo, None, {"working-directory": "ops", "command": "apply", "comment": "false"})[0]
    assert apply.returncode == 0, apply.stderr
    done, outputs = run_action(repo, github, {"working-directory": "ops"})
    assert done.returncode == 0 and outputs["exit-code"] == "0" and outputs["has-changes"] == "false"
    assert [c["body"].splitlines()[1] for c in github.on(7)] == ["### infra plan: No changes. The infrastructure "
                                                                 "matches nodes.json."]  # updated, not a second
    assert [r.method for r in github.requests] == ["GET", "POST", "GET", "PATCH"]


def test_an_error_fails_the_job_and_says_so_in_the_comment(repo, github):
    (repo / "ops" / "nodes.json").write_text('{"web": {"instance_typo": 1}}')
    done, outputs = run_action(repo, github, {"working-directory": "ops"})
    assert done.returncode == 1 and outputs["exit-code"] == "1" and outputs["has-changes"] == "false"
    assert "::error::infra plan failed (exit 1)" in done.stdout
    [comment] = github.on(7)
    assert "### infra plan: failed (exit 1)" in comment["body"] and "instance_typo" in comment["body"]


def test_each_environment_and_command_keeps_a_comment_of_its_own(repo, github):
    from tests.test_cli_environments import NODES

    (repo / "ops" / "nodes.json").write_text(json.dumps(NODES))
    for environment in ("staging", "production", "staging"):
        done, _ = run_action(repo, github, {"working-directory": "ops", "environment": environment})
        assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(c["body"].splitlines()[0] for c in github.on(7)) == [
        "<!-- infra-plan:production -->", "<!-- infra-plan:staging -->"]
    assert "**Environment:** `staging`" in github.on(7)[0]["body"]


def test_no_pull_request_or_comment_false_posts_nothing(repo, github):
    done, outputs = run_action(repo, github, {"working-directory": "ops"}, event={"ref": "refs/heads/main"})
    assert done.returncode == 0 and "not a pull request, so no comment" in done.stdout
    assert run_action(repo, github, {"working-directory": "ops", "comment": "false"})[0].returncode == 0
    assert github.requests == [] and outputs["comment-url"] == ""


def test_a_token_that_may_not_comment_fails_naming_the_permission(repo, github):
    github.refuse = 403
    done, outputs = run_action(repo, github, {"working-directory": "ops"})
    assert done.returncode == 1 and outputs["exit-code"] == "2"
    assert "GitHub answered 403" in done.stdout and "pull-requests: write" in done.stdout


def test_a_bad_input_is_one_line(repo, github):
    done, _ = run_action(repo, github, {"working-directory": "ops", "command": "destroy"})
    assert done.returncode == 1
    assert done.stdout.strip() == "::error::input command 'destroy': use one of plan, apply, drift, usage"


@pytest.mark.parametrize("version, requirement", [
    ("", "{action}"), ("0.1.0", "infra-fleet==0.1.0"),
    ("git+https://github.com/acme/infra.git@v0.1.0", "infra-fleet @ git+https://github.com/acme/infra.git@v0.1.0"),
    ("infra-fleet>=0.1", "infra-fleet>=0.1"),
])
def test_the_install_step_installs_what_version_says(tmp_path, version, requirement):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "python").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/calls\n')
    (fake / "python").chmod(0o755)
    install = step(name="Install infra")
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}", "GITHUB_ACTION_PATH": "/action",
           **{key: with_inputs(str(value), {"version": version}) for key, value in install["env"].items()}}
    subprocess.run(["bash", "-e", "-c", install["run"]], env=env, check=True)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls == [f"-m pip install --quiet --disable-pip-version-check {requirement.format(action='/action')}",
                     "-m infra --version"]


def test_an_environment_that_waits_is_no_failure_and_its_comment_says_why(monkeypatch, tmp_path):
    from infra.ci import action

    said = "error: production promotes ami.web, which staging has not built yet: apply staging first\n"
    monkeypatch.setattr(action.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 3, "", said))
    outcome = action.run(action.Inputs(command="plan", environment="production"), tmp_path / "p.plan")
    assert not outcome.failed and outcome.code == 3
    assert outcome.report == ("### infra plan: waits for the environment before it\n\n```text\n" + said + "```")


def test_an_apply_that_stops_a_roll_at_a_manual_pause_is_no_failure_and_says_what_next(monkeypatch, tmp_path):
    from infra.ci import action

    said = ("Paused: asg.web: web-a263c48b: paused at step 2/4 with 1 of 4 instance(s), beside web-32c7a072; go on "
            "with: infra rollout promote web; go back with: infra rollout abort web\n")
    monkeypatch.setattr(action.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 4, said, ""))
    outcome = action.run(action.Inputs(command="apply"), tmp_path / "p.plan")
    assert not outcome.failed and outcome.code == 4
    assert outcome.report.startswith("### infra apply: a roll is paused, as asked (exit 4): infra rollout promote "
                                     "goes on\n\n" + said.rstrip("\n"))
