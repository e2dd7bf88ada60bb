"""Settings for the whole suite, and the ops repositories the command-line tests run in."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.support.answer_watch import AnswerWatch, watch_every_answer
from tests.support.plan_schema import PlanWatch, watch_every_plan

# CI machines are small and shared: judge properties by their results, never by their speed.
settings.register_profile("infra", deadline=None, max_examples=100)
settings.load_profile("infra")

EXAMPLE = Path(__file__).resolve().parents[1] / "nodes.json"
# Only local resources: no AMI (packer false) and no autoscaling group, so nothing needs AWS.
LOCAL = {
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "packer": False,
                 "run_list": ["recipe[base]"], "post_run_list": ["recipe[sudo]"],
                 "default_attributes": {"environment": "production", "db_password": "hunter2"}},
    "api": {"run_list": ["recipe[acme-service::api]"]},
    "web": {"run_list": ["recipe[acme::web]"], "depends_on": ["api"]},
}


@pytest.fixture
def example(tmp_path, monkeypatch):
    """An ops repository with the seed's nodes.json, as the working directory."""
    (tmp_path / "nodes.json").write_text(EXAMPLE.read_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def local(tmp_path, monkeypatch):
    """An ops repository whose groups make only local files (no AMI, no ASG): no AWS needed."""
    (tmp_path / "nodes.json").write_text(json.dumps(LOCAL, indent=2))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def _plan_watch() -> Iterator[PlanWatch]:
    watch = PlanWatch()
    restore = watch_every_plan(watch)
    yield watch
    restore()


@pytest.fixture(autouse=True)
def every_plan_validates(_plan_watch: PlanWatch) -> Iterator[None]:
    """Every plan a test makes (JSON or not) validates against docs/plan-json.md's schema."""
    _plan_watch.take()
    yield
    broken = _plan_watch.take()
    assert not broken, "a plan broke docs/plan-json.md's schema: " + "; ".join(
        f"{source}: {', '.join(errors)}" for source, errors in broken)


@pytest.fixture(scope="session")
def _answer_watch() -> Iterator[AnswerWatch]:
    watch = AnswerWatch()
    restore = watch_every_answer(watch)
    yield watch
    restore()


@pytest.fixture(autouse=True)
def every_answer_reads_as_botocore_reads_it(_answer_watch: AnswerWatch) -> Iterator[None]:
    """Every XML answer a test's AWS calls get (in this process) reads the same with infra's compiled
    readers as with botocore's parser (infra/aws/xml_answers.py)."""
    _answer_watch.take()
    yield
    differences = _answer_watch.take()
    assert not differences, "the compiled XML readers read an answer otherwise than botocore: " + "; ".join(
        differences[:3])
