"""--exclude, pure: what is named, what depends on it, and deletions going whole per group."""

from infra.reconciler.exclude import left_out, unknown_names
from infra.reconciler.graph import Graph, topological
from infra.reconciler.resources import Resource
from infra.state.model import ResourceState, State


def resource(kind: str, group: str, *depends: str) -> Resource:
    return Resource(kind=kind, group=group, depends_on=depends)


def fleet(group: str, source: str | None = None) -> list[Resource]:
    built_from = (f"ami.{source}",) if source else ()
    return [resource("role", group), resource("ami", group, f"role.{group}", *built_from), resource("dna", group),
            resource("launch_template", group, f"ami.{group}", f"dna.{group}"),
            resource("asg", group, f"launch_template.{group}")]


DESIRED = Graph(topological([*fleet("base"), *fleet("web", source="base"), *fleet("api")]))
ALL = set(DESIRED.resources)


def test_a_group_takes_everything_of_its_own_and_what_other_groups_build_on_it():
    assert left_out(["base"], DESIRED, State(), ALL) == {a for a in ALL if a.endswith(".base")} | {
        "ami.web", "launch_template.web", "asg.web"}  # built from base's AMI; web's role and dna file are not
    assert left_out(["api"], DESIRED, State(), ALL) == {a for a in ALL if a.endswith(".api")}


def test_an_address_takes_what_depends_on_it_and_nothing_it_depends_on():
    assert left_out(["ami.api"], DESIRED, State(), ALL) == {"ami.api", "launch_template.api", "asg.api"}
    assert left_out(["asg.web"], DESIRED, State(), ALL) == {"asg.web"}
    assert left_out(["dna.web", "role.api"], DESIRED, State(), ALL) == {
        "dna.web", "launch_template.web", "asg.web", "role.api", "ami.api", "launch_template.api", "asg.api"}


def test_what_would_be_deleted_goes_whole_or_not_at_all_per_group():
    gone = {f"{kind}.old": ResourceState(kind=kind, group="old", depends_on=depends) for kind, depends in (
        ("launch_template", ["ami.old"]), ("asg", ["launch_template.old"]), ("ami", []))}
    state = State(resources=gone)
    addresses = ALL | set(gone) | {"asg.old.old-1a2b3c4d"}  # and a roll's leftover, found, not recorded
    assert left_out(["asg.old"], DESIRED, state, addresses) == {"ami.old", "launch_template.old", "asg.old",
                                                               "asg.old.old-1a2b3c4d"}
    assert left_out(["old"], DESIRED, state, addresses) == left_out(["ami.old"], DESIRED, state, addresses)


def test_names_that_match_nothing_are_reported():
    assert unknown_names(["web", "asg.api", "wbe", "asg.nope"], ALL) == ["wbe", "asg.nope"]
