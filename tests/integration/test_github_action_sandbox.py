"""The GitHub Action's plan on the sandbox's AWS (moto), with the stand-in for GitHub's API: one
comment created, then updated by the next run, the outputs the plan's own counts."""

from __future__ import annotations

import json
import re

import pytest

from tests.support.fake_github import FakeGitHub
from tests.test_github_action import run_action

pytestmark = pytest.mark.integration


@pytest.fixture
def github():
    server = FakeGitHub()
    yield server
    server.close()


def test_the_plan_comment_is_made_once_then_kept_up_to_date(aws, ops_repo, github, tmp_path_factory):
    runner = tmp_path_factory.mktemp("runner")
    done, outputs = run_action(ops_repo, github, {}, tmp=runner)
    assert done.returncode == 0, done.stdout + done.stderr
    [comment] = github.on(7)
    headline = comment["body"].splitlines()[1]
    counts = re.fullmatch(r"### infra plan: Plan: (\d+) to add, (\d+) to change, (\d+) to destroy, (\d+) to build\.",
                          headline)
    assert counts, headline
    assert (outputs["add"], outputs["change"], outputs["destroy"], outputs["build"]) == counts.groups()
    assert int(outputs["add"]) > 0 and outputs["exit-code"] == "2" and outputs["has-changes"] == "true"
    assert "```mermaid\nflowchart LR" in comment["body"]  # the order of the changes, folded in
    assert '["* ami.12_04-bee"]' in comment["body"] and '"m3.xlarge"' in comment["body"]

    nodes = json.loads((ops_repo / "nodes.json").read_text())
    nodes["12_04-www"]["instance_type"] = "m3.large"
    (ops_repo / "nodes.json").write_text(json.dumps(nodes))
    done, outputs = run_action(ops_repo, github, {}, tmp=runner)
    assert done.returncode == 0, done.stdout + done.stderr
    [comment] = github.on(7)  # the same one, updated
    assert '"m3.large"' in comment["body"] and '"m3.xlarge"' not in comment["body"]  # the seed's, before
    assert [r.method for r in github.requests] == ["GET", "POST", "GET", "PATCH"]
    assert f"updated the comment on pull request #7: {comment['html_url']}" in done.stdout
