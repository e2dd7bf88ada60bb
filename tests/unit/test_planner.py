"""The planner is pure: every action kind, ordering, references, deletions, scope. No I/O."""

import pytest

from infra.errors import ConfigError
from infra.reconciler.actions import ActionKind
from infra.reconciler.graph import Graph, topological
from infra.reconciler.kinds import AMI
from infra.reconciler.planner import plan
from infra.reconciler.refs import digest, ref
from infra.reconciler.resources import Observed, Resource
from infra.state.model import ResourceState, State


def graph(*resources: Resource) -> Graph:
    return Graph(topological(resources))


def role(group="web", run_list=("recipe[a::default]",)):
    return Resource(kind="role", group=group, attributes={"path": f"roles/role-{group}.json",
                                                          "document": {"run_list": list(run_list)}})


def ami(group="web", template="t1", source="ami-1ebb2077"):
    return Resource(kind="ami", group=group, depends_on=(f"role.{group}",),
                    attributes={"source_image": source, "template_digest": template})


def launch_template(group="web", instance_type="m1.large"):
    return Resource(kind="launch_template", group=group, depends_on=(f"ami.{group}",),
                    attributes={"image_id": ref(f"ami.{group}", "image_id"), "instance_type": instance_type})


def asg(group="web", max_size=2):
    return Resource(kind="asg", group=group, depends_on=(f"launch_template.{group}",), attributes={
        "max_size": max_size, "launch_template_version": ref(f"launch_template.{group}", "version")})


def seen(resource: Resource, **outputs) -> Observed:
    return Observed(attributes=dict(resource.attributes), outputs=outputs)


def built(resource: Resource, image_id="ami-0000aaaa") -> Observed:
    return Observed(attributes={"source_hash": digest(resource.attributes)}, outputs={"image_id": image_id})


def kinds(result):
    return {a.address: a.action for a in result.actions}


def test_missing_resources_are_created_and_amis_built():
    result = plan(graph(role(), ami()), {}, State())
    assert kinds(result) == {"role.web": ActionKind.CREATE, "ami.web": ActionKind.BUILD}
    assert result.summary() == {"add": 1, "change": 0, "destroy": 0, "build": 1, "adopt": 0, "refresh": 0,
                                "promote": 0}


def test_nothing_to_do_when_everything_matches():
    r, a, lt = role(), ami(), launch_template()
    observed = {"role.web": seen(r), "ami.web": built(a, "ami-0000aaaa"),
                "launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "1"})}
    result = plan(graph(r, a, lt), observed, State())
    assert not result.changes
    assert all(a.action is ActionKind.NOOP for a in result.actions)


def test_a_changed_attribute_is_an_update_naming_the_path():
    r = role(run_list=["recipe[a::default]", "recipe[b::default]"])
    result = plan(graph(r), {"role.web": seen(role())}, State())
    action = result.actions[0]
    assert action.action is ActionKind.UPDATE
    assert [(c.path, c.before, c.after) for c in action.changes] == [
        ("document.run_list[1]", None, "recipe[b::default]")]


def test_new_inputs_rebuild_the_ami_and_roll_what_uses_it():
    old_ami, new_ami = ami(template="t1"), ami(template="t2")
    lt, group = launch_template(), asg()
    observed = {
        "role.web": seen(role()),
        "ami.web": built(old_ami, "ami-0000aaaa"),
        "launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                        outputs={"id": "lt-1", "version": "3"}),
        "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "3"}, outputs={"name": "web-1"}),
    }
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", attributes=old_ami.attributes)})
    result = plan(graph(role(), new_ami, lt, group), observed, state)
    assert kinds(result) == {"role.web": ActionKind.NOOP, "ami.web": ActionKind.BUILD,
                             "launch_template.web": ActionKind.UPDATE, "asg.web": ActionKind.REPLACE}
    by = {a.address: a for a in result.actions}
    assert "template_digest" in by["ami.web"].reason
    assert by["launch_template.web"].after["image_id"] == ref("ami.web", "image_id")  # known after apply
    assert "launch_template_version" in by["asg.web"].reason


def test_a_tag_change_of_the_launch_template_rolls_nothing():
    """Tags live outside the template's versions: the ASG keeps its version and is not rolled."""
    tagged = launch_template().model_copy(update={"attributes": {**launch_template().attributes,
                                                                 "tags": {"team": "core"}}})
    observed = {"ami.web": Observed(outputs={"image_id": "ami-1"}),
                "launch_template.web": Observed(attributes={"image_id": "ami-1", "instance_type": "m1.large",
                                                            "tags": {}}, outputs={"id": "lt-1", "version": "3"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "3"})}
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", outputs={"image_id": "ami-1"})})
    result = plan(graph(tagged, asg()), observed, state, scope={"launch_template.web", "asg.web"})
    assert kinds(result) == {"launch_template.web": ActionKind.UPDATE, "asg.web": ActionKind.NOOP}
    retyped = launch_template(instance_type="m3.large")
    result = plan(graph(retyped, asg()), observed, state, scope={"launch_template.web", "asg.web"})
    assert kinds(result) == {"launch_template.web": ActionKind.UPDATE, "asg.web": ActionKind.REPLACE}


def test_a_tag_change_of_the_ami_tags_it_in_place_and_builds_nothing():
    def tagged(tags):
        return ami().model_copy(update={"attributes": {**ami().attributes, "tags": tags}})
    lt = launch_template()
    found = Observed(attributes={"source_hash": AMI.build_digest(tagged({}).attributes), "tags": {"group": "web"}},
                     outputs={"image_id": "ami-0000aaaa"})
    observed = {"role.web": seen(role()), "ami.web": found,
                "launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "1"})}
    wanted = {"group": "web", "team": "core"}
    result = plan(graph(role(), tagged(wanted), lt), observed, State())
    by = {a.address: a for a in result.actions}
    assert by["ami.web"].action is ActionKind.UPDATE and by["ami.web"].reason == "changed: tags"
    assert [(c.path, c.after) for c in by["ami.web"].changes] == [("tags.team", "core")]
    assert by["launch_template.web"].action is ActionKind.NOOP  # the image id is kept
    assert plan(graph(role(), tagged(wanted), lt), {**observed, "ami.web": found.model_copy(
        update={"attributes": {**found.attributes, "tags": wanted}})}, State()).changes == []
    rebuilt = ami(template="t2").model_copy(update={"attributes": {**ami(template="t2").attributes, "tags": wanted}})
    assert kinds(plan(graph(role(), rebuilt, lt), observed, State()))["ami.web"] is ActionKind.BUILD


def test_a_size_change_alone_is_an_in_place_update():
    lt = launch_template()
    observed = {"launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "3"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "3"})}
    result = plan(graph(lt, asg(max_size=5)), observed, State(), scope={"asg.web"})
    assert kinds(result) == {"asg.web": ActionKind.UPDATE}


def test_forced_replacement_is_a_roll_even_without_changes():
    observed = {"launch_template.web": Observed(outputs={"id": "lt-1", "version": "3"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "3"})}
    result = plan(graph(launch_template(), asg()), observed, State(), scope={"asg.web"}, forced=["asg.web"])
    assert kinds(result) == {"asg.web": ActionKind.REPLACE}


def test_an_ami_from_an_upstream_group_waits_for_its_rebuild():
    base = ami("base", template="new")
    child = ami("child", source=ref("ami.base", "image_id"))
    child = child.model_copy(update={"depends_on": ("role.child", "ami.base")})
    resolved_child = {**child.attributes, "source_image": "ami-0000base"}
    observed = {"ami.base": Observed(attributes={"source_hash": "old"}, outputs={"image_id": "ami-0000base"}),
                "ami.child": Observed(attributes={"source_hash": digest(resolved_child)}, outputs={"image_id": "x"})}
    result = plan(graph(base, child), observed, State())
    assert kinds(result) == {"ami.base": ActionKind.BUILD, "ami.child": ActionKind.BUILD}
    assert "ami.base.image_id" in result.actions[1].reason
    # once base is up to date, the child is too
    observed["ami.base"] = built(base, "ami-0000base")
    assert not plan(graph(base, child), observed, State()).changes


def test_what_the_config_no_longer_has_is_deleted_dependants_first():
    state = State(resources={
        "ami.old": ResourceState(kind="ami", group="old", depends_on=["role.old"]),
        "role.old": ResourceState(kind="role", group="old", attributes={"path": "roles/role-old.json"}),
        "asg.old": ResourceState(kind="asg", group="old", depends_on=["ami.old"]),
    })
    observed = {a: Observed() for a in state.resources}
    result = plan(graph(), observed, state)
    assert [a.address for a in result.actions] == ["asg.old", "ami.old", "role.old"]
    assert all(a.action is ActionKind.DELETE for a in result.actions)
    assert result.actions[1].depends_on == ["asg.old"]


def test_a_protected_resource_stays_protected_when_its_group_leaves_nodes_json():
    state = State(resources={
        "asg.old": ResourceState(kind="asg", group="old", protect=True),
        "role.old": ResourceState(kind="role", group="old"),
    })
    result = plan(graph(), {a: Observed() for a in state.resources}, state)
    assert {a.address: a.protected for a in result.actions} == {"asg.old": True, "role.old": False}


def test_a_protected_orphan_stays_protected_by_its_tag_when_the_state_is_lost():
    tagged = Observed(attributes={"tags": {"group": "old", "infra:protect": "true"}})
    result = plan(graph(), {"asg.old": tagged, "launch_template.old": tagged, "ami.other": Observed()}, State())
    assert {a.address: a.protected for a in result.actions} == {
        "asg.old": True, "launch_template.old": False, "ami.other": False}


def test_a_group_moved_to_another_region_is_refused_with_the_way_to_move_it():
    moved = launch_template().model_copy(update={"attributes": {"region": "us-west-2", "instance_type": "m1.large"}})
    state = State(resources={"launch_template.web": ResourceState(kind="launch_template", group="web",
                                                                  attributes={"region": "us-east-1"})})
    with pytest.raises(ConfigError, match=r"group web moves from us-east-1 to us-west-2 .*under a new name"):
        plan(graph(moved), {}, state)


def test_a_deletion_waits_for_what_was_built_on_it_to_stop_using_it():
    """"packer": false on an ASG group: its AMI goes only after the launch template and the roll."""
    state = State(resources={
        "ami.web": ResourceState(kind="ami", group="web"),
        "launch_template.web": ResourceState(kind="launch_template", group="web", depends_on=["ami.web"]),
        "asg.web": ResourceState(kind="asg", group="web", depends_on=["launch_template.web"]),
    })
    without_ami = launch_template().model_copy(update={"depends_on": (), "attributes": {
        "image_id": "ami-1ebb2077", "instance_type": "m1.large"}})
    observed = {"ami.web": Observed(),
                "launch_template.web": Observed(attributes={"image_id": "ami-0000old", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "1"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "1"})}
    result = plan(graph(without_ami, asg()), observed, state)
    actions = {a.address: a for a in result.actions}
    assert actions["asg.web"].action is ActionKind.REPLACE
    assert actions["ami.web"].action is ActionKind.DELETE
    assert set(actions["ami.web"].depends_on) == {"launch_template.web", "asg.web"}


def test_a_one_off_instance_the_state_lost_is_adopted_while_its_group_exists():
    found = Observed(attributes={"instance_type": "m1.large"}, outputs={"id": "i-1"})
    kept = plan(graph(role("web")), {"instance.web.w-1": found, "instance.gone.g-1": found}, State())
    actions = {a.address: a for a in kept.actions}
    assert actions["instance.web.w-1"].action is ActionKind.NOOP
    assert actions["instance.web.w-1"].after == {"instance_type": "m1.large"}  # recorded by apply
    assert actions["instance.gone.g-1"].action is ActionKind.DELETE  # its group is gone


def test_recorded_but_already_gone_is_forgotten_not_deleted():
    state = State(resources={"role.old": ResourceState(kind="role", group="old")})
    result = plan(graph(), {}, state)
    assert [(a.address, a.action, a.after) for a in result.actions] == [("role.old", ActionKind.NOOP, None)]


def test_orphans_found_by_a_provider_are_deleted():
    result = plan(graph(), {"asg.gone": Observed()}, State())
    assert kinds(result) == {"asg.gone": ActionKind.DELETE}


def test_scope_limits_the_plan_and_takes_the_rest_as_observed():
    result = plan(graph(role("a"), role("b")), {}, State(), scope={"role.b"})
    assert kinds(result) == {"role.b": ActionKind.CREATE}


def test_a_reference_to_what_a_targeted_plan_did_not_look_at_is_taken_as_recorded():
    """autoscale:update plans launch templates and ASGs only: the AMI is neither in scope nor
    observed. Its recorded id is what the launch template already has, so nothing changes there
    (the roll alone is forced), rather than an unknown image id and a new template version."""
    a, lt, group = ami(), launch_template(), asg()
    observed = {"launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "1"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "1"}, outputs={"name": "w"})}
    state = State(resources={"ami.web": ResourceState(kind="ami", group="web", attributes=a.attributes,
                                                      outputs={"image_id": "ami-0000aaaa"})})
    result = plan(graph(role(), a, lt, group), observed, state, scope={"launch_template.web", "asg.web"},
                  forced=["asg.web"])
    assert kinds(result) == {"launch_template.web": ActionKind.NOOP, "asg.web": ActionKind.REPLACE}
    assert next(x for x in result.actions if x.address == "asg.web").changes == []
    # In scope but gone, it is unknown: the AMI is built again, and what uses it waits for that.
    rebuilt = plan(graph(role(), a, lt, group), observed, state)
    assert kinds(rebuilt)["launch_template.web"] is ActionKind.UPDATE


def test_protected_resources_are_marked_when_destroyed():
    guarded = asg().model_copy(update={"protect": True})
    observed = {"launch_template.web": Observed(outputs={"id": "lt-1", "version": "4"}),
                "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "3"})}
    result = plan(graph(launch_template(), guarded), observed, State(), scope={"asg.web"})
    assert result.actions[0].action is ActionKind.REPLACE and result.actions[0].protected


def removed_group(run_list=("recipe[a::default]",)) -> State:
    """The state of group `old`, gone from nodes.json: its ASG, and its role as last applied."""
    return State(resources={"asg.old": ResourceState(kind="asg", group="old"),
                            "role.old": ResourceState(kind="role", group="old",
                                                      attributes=role("old", run_list).attributes)})


def test_a_renamed_groups_old_asg_goes_only_once_the_new_one_is_up():
    state = removed_group()
    observed = {a: Observed() for a in state.resources}
    result = plan(graph(role("new"), ami("new"), launch_template("new"), asg("new")), observed, state)
    actions = {a.address: a for a in result.actions}
    assert actions["asg.old"].depends_on == ["asg.new"]
    assert actions["asg.old"].reason == ("no longer in nodes.json; deleted once asg.new is up; asg.new takes over: "
                                         "the same run list")
    assert actions["asg.old"].hold and not actions["role.old"].hold
    # The old role, the evidence of the rename, goes after the old nodes: an apply that stops
    # before them (the new ones failed) leaves it, so the next plan still sees the rename.
    assert actions["role.old"].depends_on == ["asg.old"] and not actions["role.old"].hold


def test_a_new_group_that_provides_a_removed_groups_service_takes_over_from_it():
    state = removed_group(["recipe[base]", "recipe[seatgeek-service::api]", "recipe[seatgeek-service::cron]"])
    new = role("new", ["recipe[base]", "recipe[other]", "recipe[seatgeek-service::api]"])
    observed = {a: Observed() for a in state.resources}
    actions = {a.address: a for a in plan(graph(new, asg("new")), observed, state).actions}
    assert actions["asg.old"].hold and actions["asg.old"].depends_on == ["asg.new"]
    assert actions["asg.old"].reason.endswith("deleted once asg.new is up; asg.new takes over: its service api")


def test_an_unrelated_group_added_and_another_removed_is_no_rename():
    """Nothing says `batch` does `legacy`'s work: legacy goes at once, whatever becomes of batch."""
    state = removed_group(["recipe[legacy::default]", "recipe[seatgeek-service::legacy-api]"])
    observed = {a: Observed() for a in state.resources}
    batch = role("batch", ["recipe[batch::default]", "recipe[seatgeek-service::jobs]"])
    actions = {a.address: a for a in plan(graph(batch, asg("batch")), observed, state).actions}
    assert actions["asg.batch"].action is ActionKind.CREATE
    assert actions["asg.old"].action is ActionKind.DELETE and actions["asg.old"].depends_on == []
    assert not actions["asg.old"].hold and actions["asg.old"].reason == "no longer in nodes.json"


def test_a_removed_group_whose_role_is_unknown_is_no_rename():
    state = State(resources={"asg.old": ResourceState(kind="asg", group="old")})
    actions = {a.address: a for a in plan(graph(role("new"), asg("new")), {"asg.old": Observed()}, state).actions}
    assert actions["asg.old"].depends_on == [] and not actions["asg.old"].hold


def test_a_removed_group_does_not_wait_for_the_roll_of_a_group_that_stays():
    state = State(resources={"asg.old": ResourceState(kind="asg", group="old"),
                             "asg.web": ResourceState(kind="asg", group="web")})
    rolled = Resource(kind="asg", group="web", attributes={"max_size": 2, "launch_template_version": "2"})
    observed = {"asg.old": Observed(), "asg.web": Observed(attributes={"max_size": 2, "launch_template_version": "1"})}
    actions = {a.address: a for a in plan(graph(rolled), observed, state).actions}
    assert actions["asg.web"].action is ActionKind.REPLACE
    assert actions["asg.old"].depends_on == [] and not actions["asg.old"].hold


def test_a_leftover_asg_of_a_protected_group_that_stays_goes_without_allow_destroy():
    tags = {"tags": {"group": "web", "infra:protect": "true"}}
    kept = Resource(kind="asg", group="web", protect=True, attributes={"max_size": 2, **tags})
    observed = {"asg.web": Observed(attributes={"max_size": 2, **tags}),
                "asg.web.web-leftover": Observed(attributes=tags),
                "asg.gone": Observed(attributes={"tags": {"group": "gone", "infra:protect": "true"}})}
    actions = {a.address: a for a in plan(graph(kept), observed, State()).actions}
    assert actions["asg.web.web-leftover"].action is ActionKind.DELETE and not actions["asg.web.web-leftover"].protected
    assert actions["asg.web.web-leftover"].reason == "left beside asg.web by an interrupted roll"
    assert actions["asg.gone"].protected  # its group is gone: the tag is all that says it is protected


def test_an_orphan_ami_waits_for_the_launch_template_that_stops_using_it():
    """A lost state, and the group turned to "packer": false: its AMI goes after the template moves off it."""
    lt = launch_template().model_copy(update={"depends_on": (), "attributes": {
        "image_id": "ami-1ebb2077", "instance_type": "m1.large"}})
    observed = {"ami.web": Observed(outputs={"image_id": "ami-0000aaaa"}),
                "launch_template.web": Observed(attributes={"image_id": "ami-0000aaaa", "instance_type": "m1.large"},
                                                outputs={"id": "lt-1", "version": "1"})}
    actions = {a.address: a for a in plan(graph(lt), observed, State()).actions}
    assert actions["launch_template.web"].action is ActionKind.UPDATE
    assert actions["ami.web"].action is ActionKind.DELETE and actions["ami.web"].depends_on == ["launch_template.web"]


def test_a_removed_asg_does_not_wait_when_nothing_starts():
    state = State(resources={"asg.old": ResourceState(kind="asg", group="old")})
    running = Resource(kind="asg", group="web", attributes={"max_size": 2})
    result = plan(graph(running), {"asg.old": Observed(), "asg.web": seen(running)}, state)
    actions = {a.address: a for a in result.actions}
    assert actions["asg.web"].action is ActionKind.NOOP
    assert actions["asg.old"].depends_on == [] and actions["asg.old"].reason == "no longer in nodes.json"
    assert not actions["asg.old"].hold  # a group simply removed goes at once


def test_orphans_without_a_state_go_dependants_first_in_a_stable_order():
    """A lost state: what a removed group left is found by its tags only, with no recorded edges."""
    found = ["ami.old", "dna.old", "launch_template.old", "asg.old", "packer_template.old", "asg.old.leftover"]
    orders = set()
    for shuffled in (found, list(reversed(found)), sorted(found)):
        result = plan(graph(), {address: Observed() for address in shuffled}, State())
        orders.add(tuple(a.address for a in result.actions))
        actions = {a.address: a for a in result.actions}
        assert set(actions["launch_template.old"].depends_on) == {"asg.old", "asg.old.leftover"}
        assert actions["ami.old"].depends_on == ["launch_template.old"]
        assert actions["dna.old"].depends_on == ["launch_template.old"]
        assert actions["packer_template.old"].depends_on == ["ami.old"]
    assert len(orders) == 1


def test_the_kinds_table_knows_every_edge_the_graph_draws_within_a_group():
    from pathlib import Path

    from infra.config import load_config
    from infra.operations.fleet import instance_resource
    from infra.reconciler.graph import desired_graph
    from infra.reconciler.kinds import kind_of
    from infra.reconciler.resources import split_address

    config = load_config(Path(__file__).resolve().parents[2] / "nodes.json")
    resources = list(desired_graph(config))
    resources.append(instance_resource(config.group("12_04-www"), "www-1", key="k", zone="us-east-1a", root=".",
                                       owner="ops"))
    for resource in resources:
        same_group = {split_address(d)[0] for d in resource.depends_on if split_address(d)[1] == resource.group}
        assert same_group <= kind_of(resource.kind).built_on, resource.address
