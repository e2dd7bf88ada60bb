"""Files infra deletes or writes are inside the repository, and a plan says which it deletes."""

import pytest

from infra.errors import ProviderError
from infra.fsutil import inside_repository
from infra.providers.files import FilesProvider
from infra.reconciler.graph import Graph
from infra.reconciler.planner import plan
from infra.reconciler.render import plan_markdown, plan_text
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State


@pytest.mark.parametrize("path", ["roles/role-web.json", "dna/asg/web.json", ".infra/state.json", "a/../b.json"])
def test_relative_paths_inside_the_repository_are_taken(path):
    assert inside_repository(path) == path


@pytest.mark.parametrize("path", ["../VICTIM.txt", "/etc/passwd", "roles/../../x", "", ".", "..", "a\0b"])
def test_paths_outside_the_repository_are_refused(path):
    with pytest.raises(ValueError, match="is outside the repository"):
        inside_repository(path)


def _gone(path: str) -> tuple[Graph, State]:
    state = State(resources={"dna.gone": ResourceState(kind="dna", group="gone", attributes={"path": path})})
    return Graph({}), state


def test_a_state_entry_naming_a_file_outside_is_neither_read_nor_deleted(tmp_path):
    repository = tmp_path / "ops"
    repository.mkdir()
    victim = tmp_path / "VICTIM.txt"
    victim.write_text("keep me")
    files = FilesProvider(repository)
    for path in ("../VICTIM.txt", str(victim)):
        with pytest.raises(ProviderError, match="dna.gone: .* is outside the repository; .* infra state rm dna.gone"):
            files.observe([Resource(kind="dna", group="gone", attributes={"path": path})])
    # A plan saved and edited by hand reaches apply without an observation: refused there too.
    desired, state = _gone("dna/asg/gone.json")
    edited = plan(desired, {"dna.gone": Observed(attributes={"path": "../VICTIM.txt"})}, state).actions[0]
    with pytest.raises(ProviderError, match="is outside the repository"):
        files.apply(edited, {}, lambda message: None)
    assert victim.read_text() == "keep me"


def test_a_plan_shows_the_path_of_each_file_it_deletes():
    desired, state = _gone("dna/asg/gone.json")
    the_plan = plan(desired, {"dna.gone": Observed(attributes={"path": "dna/asg/gone.json"})}, state)
    assert '  - dna.gone\n    - file dna/asg/gone.json' in plan_text(the_plan, color=False)
    assert '# dna.gone: delete\n- file dna/asg/gone.json' in plan_markdown(the_plan)
