"""AMIs on moto with the real packer: build, rebuild rules, @base, retention, packer:clean and packer:delete."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from infra.providers import packer
from infra.providers.aws import images
from infra.state.lock import LockInfo
from tests.cli_helpers import run_infra
from tests.integration.conftest import owner_of

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
        "run_list": ["recipe[seatgeek::base-server]"]}
NODES = {"__base__": BASE, "web": {"security_groups": ["www"]}, "api": {"source_ami": "ami-0a1b2c3d"}}


@pytest.fixture
def repo(aws, ops_repo: Path) -> Path:
    packer.binary()  # fails (does not skip) when packer is missing
    write_nodes(ops_repo, NODES)
    return ops_repo


def write_nodes(repo: Path, nodes: dict) -> None:
    (repo / "nodes.json").write_text(json.dumps(nodes, indent=2))


def amis(ec2, group: str | None = None) -> list[dict]:
    """infra's AMIs (of one group), oldest first."""
    filters = [{"Name": "tag:infra:managed", "Values": ["true"]}]
    if group:
        filters.append({"Name": "tag:group", "Values": [group]})
    images = ec2.describe_images(Owners=["self"], Filters=filters)["Images"]
    return sorted(images, key=lambda i: (i["CreationDate"], i["Name"]))


def tags(image: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def snapshots(image: dict) -> list[str]:
    return [m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "Ebs" in m]


def snapshot_ids(ec2) -> set[str]:
    return {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


def make_ami(ec2, group: str, name: str, owner: str) -> dict:
    """An AMI of `group` as an earlier build of project `owner` would have left it (quicker than packer
    for old ones)."""
    instance = ec2.run_instances(ImageId="ami-1ebb2077", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image_id = ec2.create_image(InstanceId=instance, Name=name)["ImageId"]
    ec2.create_tags(Resources=[image_id], Tags=[{"Key": "group", "Value": group},
                                                {"Key": "infra:managed", "Value": "true"},
                                                {"Key": "infra:owner", "Value": owner},
                                                {"Key": "infra:source_hash", "Value": "old"}])
    ec2.terminate_instances(InstanceIds=[instance])
    return ec2.describe_images(ImageIds=[image_id])["Images"][0]


def launch_template_using(ec2, image_id: str, name: str = "in-use") -> str:
    return ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData={
        "ImageId": image_id, "InstanceType": "m1.large"})["LaunchTemplate"]["LaunchTemplateId"]


def test_first_apply_builds_one_ami_per_group_in_parallel_and_a_second_builds_none(repo, ec2, capsys):
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    # both builds started before either finished: independent builds run at the same time
    started = [i for i, line in enumerate(lines) if line.endswith(": build...")]
    finished = [i for i, line in enumerate(lines) if ": built (" in line]
    assert len(started) == len(finished) == 2 and max(started) < min(finished)
    assert "ami.web: ==> amazon-ebs: Launching a source AWS instance..." in result.out  # packer's own progress
    assert "not AWS, so nothing boots: the 1 provisioner(s) (chef-solo) are left out" in result.out

    built = amis(ec2)
    assert sorted(tags(i)["group"] for i in built) == ["api", "web"]
    for image in built:
        assert tags(image)["infra:managed"] == "true" and len(tags(image)["infra:source_hash"]) == 16
        assert image["Name"].startswith(tags(image)["group"] + "-20")
    state = json.loads((repo / ".infra/state.json").read_text())
    recorded = {state["resources"][f"ami.{group}"]["outputs"]["image_id"] for group in ("web", "api")}
    assert recorded == {i["ImageId"] for i in built}
    # the user's template stays as rendered; the sandbox settings went into a temporary copy
    template = json.loads((repo / "packer/web.json").read_text())
    assert "custom_endpoint_ec2" not in template["builders"][0] and template["provisioners"]

    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
    again = run_infra(capsys, "apply", "--auto-approve")
    assert again.code == 0 and "No changes" in again.out and "build" not in again.out
    assert len(amis(ec2)) == 2


def test_the_build_instance_joins_the_groups_security_groups_by_name(repo, ec2, capsys):
    assert run_infra(capsys, "packer:run", "web").code == 0
    builders = ec2.describe_instances(Filters=[{"Name": "tag:infra:build", "Values": ["web"]}])["Reservations"]
    groups = {g["GroupName"] for r in builders for i in r["Instances"] for g in i["SecurityGroups"]}
    assert groups == {"internal", "www"}


def test_a_security_group_that_does_not_exist_fails_the_build_when_planning(repo, ec2, capsys):
    write_nodes(repo, {"__base__": BASE, "web": {"security_groups": ["nope"]}})
    result = run_infra(capsys, "packer:run")
    assert result.code == 1
    assert "group 'web': security_groups: no security group nope in us-east-1; make it there" in result.err
    assert amis(ec2) == []


def test_changing_a_groups_instance_type_rebuilds_that_group_only(repo, ec2, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    first = {tags(i)["group"]: i["ImageId"] for i in amis(ec2)}
    write_nodes(repo, {**NODES, "web": {"security_groups": ["www"], "instance_type": "c5.large"}})
    planned = run_infra(capsys, "plan")
    assert "ami.web will be built" in planned.out and "ami.api" not in planned.out
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    assert [i["ImageId"] for i in amis(ec2, "api")] == [first["api"]]
    web = amis(ec2, "web")
    assert len(web) == 2 and web[0]["ImageId"] == first["web"]  # the old one stays until retention
    # both builds may fall in one second (CreationDate's precision): the name's milliseconds order them
    assert all(re.fullmatch(r"web-\d{8}-\d{6}\.\d{3}-[0-9a-f]+", image["Name"]) for image in web), web
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_a_tag_change_tags_the_ami_and_its_snapshots_in_place_and_builds_nothing(repo, ec2, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [before] = amis(ec2, "web")
    write_nodes(repo, {**NODES, "web": {"security_groups": ["www"], "tags": {"team": "core"}}})
    planned = run_infra(capsys, "plan")
    assert "~ ami.web" in planned.out and "will be built" not in planned.out, planned.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0

    [after] = amis(ec2, "web")
    assert after["ImageId"] == before["ImageId"] and tags(after)["team"] == "core"
    snapshot = ec2.describe_snapshots(SnapshotIds=snapshots(after))["Snapshots"][0]
    assert tags(snapshot)["team"] == "core"
    assert tags(after)["infra:source_hash"] == tags(before)["infra:source_hash"]
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0

    write_nodes(repo, NODES)  # and taken off again
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [untagged] = amis(ec2, "web")
    assert untagged["ImageId"] == before["ImageId"] and "team" not in tags(untagged)
    assert run_infra(capsys, "drift").code == 0
    ec2.create_tags(Resources=[before["ImageId"]], Tags=[{"Key": "owner", "Value": "me"},  # another tool's
                                                         {"Key": "Name", "Value": "renamed"}])  # infra's, by hand
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "tags.Name" in drift.out and "owner" not in drift.out, drift.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [fixed] = amis(ec2, "web")
    assert tags(fixed)["Name"] == "web" and tags(fixed)["owner"] == "me"  # infra's put back, the other left


def test_a_group_built_from_base_builds_after_it_from_its_newest_ami(repo, ec2, capsys):
    write_nodes(repo, {"__base__": BASE, "base": {}, "app": {"source_ami": "@base"}})
    result = run_infra(capsys, "packer:run")
    assert result.code == 0, result.err
    assert result.out.index("ami.base: built (") < result.out.index("ami.app: build...")
    base = amis(ec2, "base")[-1]["ImageId"]
    assert f"ami.app:     amazon-ebs: Found Image ID: {base}" in result.out
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0

    write_nodes(repo, {"__base__": BASE, "base": {"instance_type": "c5.large"}, "app": {"source_ami": "@base"}})
    planned = run_infra(capsys, "plan")
    assert "ami.base will be built" in planned.out and "ami.app will be built" in planned.out
    assert "its source changes first: ami.base.image_id" in planned.out
    assert run_infra(capsys, "packer:run").code == 0
    newer = amis(ec2, "base")[-1]["ImageId"]
    assert newer != base and len(amis(ec2, "app")) == 2
    builds = ec2.describe_instances(Filters=[{"Name": "tag:infra:build", "Values": ["app"]}])["Reservations"]
    assert sorted(i["ImageId"] for r in builds for i in r["Instances"]) == sorted([base, newer])
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


def test_packer_false_builds_nothing(repo, ec2, capsys):
    write_nodes(repo, {"__base__": BASE, "web": {"packer": False}})
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    assert amis(ec2) == [] and not (repo / "packer/web.json").exists()


def test_a_source_ami_that_does_not_exist_is_a_plan_time_error_at_its_key(repo, ec2, capsys):
    write_nodes(repo, {**NODES, "api": {"source_ami": "ami-deadbeef"}})
    at = next(n for n, line in enumerate((repo / "nodes.json").read_text().splitlines(), 1) if "ami-deadbeef" in line)
    for command in (["plan"], ["apply", "--auto-approve"], ["packer:run"]):
        result = run_infra(capsys, *command)
        assert result.code == 1 and result.err == (
            f"error: nodes.json:{at}:5: group 'api': source_ami: ami-deadbeef does not exist in us-east-1, or this "
            f"account may not use it; name an AMI there\n"), result.err
    assert amis(ec2) == [] and not (repo / "packer/web.json").exists()  # nothing was built, nor written


def test_packer_clean_keeps_the_newest_and_removes_the_rest_with_their_snapshots(repo, ec2, capsys):
    old = [make_ami(ec2, "web", f"web-2020010{n}-000000", owner_of(repo)) for n in range(1, 5)]
    assert run_infra(capsys, "packer:run").code == 0
    newest = amis(ec2, "web")[-1]
    other = amis(ec2, "api")

    dry = run_infra(capsys, "packer:clean", "web", "-n", "2", "--dry-run")
    assert dry.code == 0 and "would remove 3" in dry.out and len(amis(ec2, "web")) == 5

    result = run_infra(capsys, "packer:clean", "web", "-n", "2")
    assert result.code == 0, result.err
    assert [i["ImageId"] for i in amis(ec2, "web")] == [old[3]["ImageId"], newest["ImageId"]]
    gone = {s for image in old[:3] for s in snapshots(image)}
    assert gone and not gone & snapshot_ids(ec2)
    assert set(snapshots(old[3])) <= snapshot_ids(ec2)
    assert f"deregistered {old[0]['ImageId']} (web-20200101-000000)" in result.out
    assert "kept 2 AMI(s) in all, each group's newest, across 1 group(s); removed 3." in result.out
    assert amis(ec2, "api") == other  # another group is untouched


def test_packer_clean_never_removes_an_ami_in_use_and_says_so(repo, ec2, capsys):
    old = [make_ami(ec2, "web", f"web-2020010{n}-000000", owner_of(repo)) for n in range(1, 4)]
    template = launch_template_using(ec2, old[0]["ImageId"])
    instance = ec2.run_instances(ImageId=old[1]["ImageId"], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    result = run_infra(capsys, "packer:clean", "web", "-n", "1")
    assert result.code == 0, result.err
    assert f"kept {old[0]['ImageId']} (web-20200101-000000): in use by launch template in-use (version 1)" in result.out
    assert f"kept {old[1]['ImageId']} (web-20200102-000000): in use by instance {instance} (running)" in result.out
    assert "2 older one(s) kept because they are in use; removed 0." in result.out
    assert len(amis(ec2, "web")) == 3
    assert template


def test_ami_keep_prunes_older_amis_after_a_build(repo, ec2, capsys):
    old = [make_ami(ec2, "web", f"web-2020010{n}-000000", owner_of(repo)) for n in range(1, 4)]
    launch_template_using(ec2, old[0]["ImageId"])
    write_nodes(repo, {**NODES, "web": {"security_groups": ["www"], "ami_keep": 2}})
    result = run_infra(capsys, "apply", "--auto-approve")
    assert result.code == 0, result.err
    assert "ami.web: ami_keep 2: removed 1 older AMI(s)" in result.out
    assert f"ami.web: kept {old[0]['ImageId']} (web-20200101-000000): in use by launch template" in result.out
    remaining = [i["ImageId"] for i in amis(ec2, "web")]
    assert remaining[:2] == [old[0]["ImageId"], old[2]["ImageId"]] and len(remaining) == 3
    assert not set(snapshots(old[1])) & snapshot_ids(ec2)


def test_packer_delete_removes_one_groups_amis_snapshots_and_template_and_nothing_else(repo, ec2, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    make_ami(ec2, "web", "web-20200101-000000", owner_of(repo))
    web, api = amis(ec2, "web"), amis(ec2, "api")
    asked = run_infra(capsys, "packer:delete", "web")  # it names what goes, and asks (no terminal here)
    assert asked.code == 1 and all(f"- {image['ImageId']} ({image['Name']}" in asked.out for image in web)
    assert "- packer/web.json" in asked.out, asked.out
    assert asked.err == "error: packer:delete needs confirmation: run it on a terminal, or pass --auto-approve\n"
    assert amis(ec2, "web") == web and (repo / "packer/web.json").exists()
    result = run_infra(capsys, "packer:delete", "web", "--auto-approve")
    assert result.code == 0, result.err
    assert amis(ec2, "web") == [] and amis(ec2, "api") == api
    assert not {s for image in web for s in snapshots(image)} & snapshot_ids(ec2)
    assert not (repo / "packer/web.json").exists() and (repo / "packer/api.json").exists()
    assert (repo / "roles/role-web.json").exists()  # nothing else of the group goes
    assert "removed 2 AMI(s) of web." in result.out
    state = json.loads((repo / ".infra/state.json").read_text())
    assert "ami.web" not in state["resources"] and "ami.api" in state["resources"]
    # the next apply builds it again
    planned = run_infra(capsys, "plan")
    assert "ami.web will be built" in planned.out and "ami.api" not in planned.out


def test_packer_delete_refuses_while_an_ami_is_in_use_and_removes_nothing(repo, ec2, capsys):
    assert run_infra(capsys, "packer:run", "web").code == 0
    image = amis(ec2, "web")[0]["ImageId"]
    launch_template_using(ec2, image, name="web-lt")
    result = run_infra(capsys, "packer:delete", "web", "--auto-approve")
    assert result.code == 1
    assert f"refusing to remove the AMIs of web, nothing was removed: {image} is used by launch template web-lt" \
           in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert [i["ImageId"] for i in amis(ec2, "web")] == [image] and (repo / "packer/web.json").exists()


def lose_the_lock_after(method: str, repo: Path, monkeypatch) -> LockInfo:
    """Unlock and lock by another run (from another clone) as ImagesProvider's `method` returns, lock held."""
    other = LockInfo(operation="apply", who="ops@ci-7")
    done = getattr(images.ImagesProvider, method)

    def done_then_lost(provider, *args, **kwargs):
        result = done(provider, *args, **kwargs)
        (repo / ".infra/state.lock").write_text(other.model_dump_json())
        return result

    monkeypatch.setattr(images.ImagesProvider, method, done_then_lost)
    return other


@pytest.mark.parametrize("command", [["packer:clean", "web", "-n", "1"], ["packer:delete", "web", "--auto-approve"]])
def test_packer_clean_and_delete_whose_lock_was_taken_meanwhile_remove_nothing(repo, ec2, capsys, monkeypatch,
                                                                                 command):
    """As an apply does before each step, they look at the lock again before removing anything, and
    stop in one line: the AMIs, the template, the state and the other run's lock as they were."""
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    make_ami(ec2, "web", "web-20200101-000000", owner_of(repo))
    before, state = amis(ec2), (repo / ".infra/state.json").read_text()
    other = lose_the_lock_after("images", repo, monkeypatch)
    result = run_infra(capsys, *command)
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "was removed while this run held it (infra state unlock?): stopped before removing any AMI; nothing " \
           "was written" in result.err
    assert amis(ec2) == before and (repo / "packer/web.json").exists()
    assert (repo / ".infra/state.json").read_text() == state
    assert LockInfo.model_validate_json((repo / ".infra/state.lock").read_text()) == other


def test_packer_delete_whose_lock_was_taken_as_it_removed_the_amis_leaves_the_state_to_the_other_run(
        repo, ec2, capsys, monkeypatch):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    state = (repo / ".infra/state.json").read_text()
    other = lose_the_lock_after("delete_group", repo, monkeypatch)
    result = run_infra(capsys, "packer:delete", "web", "--auto-approve")
    assert result.code == 1 and result.err.count("\n") == 1, result.err
    assert "stopped before the next step; what finished since the last step is not recorded" in result.err
    assert amis(ec2, "web") == [] and (repo / ".infra/state.json").read_text() == state  # the next plan sees it
    assert LockInfo.model_validate_json((repo / ".infra/state.lock").read_text()) == other


def test_a_group_removed_from_nodes_json_has_its_amis_removed_by_apply(repo, ec2, capsys):
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    write_nodes(repo, {"__base__": BASE, "web": {"security_groups": ["www"]}})
    planned = run_infra(capsys, "plan")
    assert "ami.api will be destroyed" in planned.out
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    assert [tags(i)["group"] for i in amis(ec2)] == ["web"]
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0


@pytest.mark.parametrize("args, message", [
    (["packer:clean", "-n", "0"], "keep at least 1 AMI; to remove every AMI of a group use packer:delete GROUP"),
    (["packer:clean"], "give -n KEEP, or set ami_keep on the group in nodes.json"),
    (["packer:clean", "wbe", "-n", "2"], "unknown group 'wbe'; did you mean 'web'?"),
    (["packer:delete", "wbe"], "unknown group 'wbe'; did you mean 'web'?"),
])
def test_bad_input_is_one_clear_line(repo, capsys, args, message):
    result = run_infra(capsys, *args)
    assert result.code == 1
    assert message in result.err and len(result.err.strip().splitlines()) == 1
    assert "Traceback" not in result.err


def test_a_protected_group_needs_allow_destroy(repo, ec2, capsys):
    write_nodes(repo, {**NODES, "web": {"security_groups": ["www"], "protect": True}})
    make_ami(ec2, "web", "web-20200101-000000", owner_of(repo))
    refused = run_infra(capsys, "packer:delete", "web")
    assert refused.code == 1 and "pass --allow-destroy" in refused.err and len(amis(ec2, "web")) == 1
    assert run_infra(capsys, "packer:delete", "web", "--allow-destroy", "--auto-approve").code == 0
    assert amis(ec2, "web") == []


def test_packer_delete_cleans_up_a_group_already_gone_from_nodes_json(repo, ec2, capsys):
    make_ami(ec2, "retired", "retired-20200101-000000", owner_of(repo))
    result = run_infra(capsys, "packer:delete", "retired", "--auto-approve")
    assert result.code == 0, result.err
    assert amis(ec2, "retired") == [] and "removed 1 AMI(s) of retired." in result.out


def test_packer_delete_of_a_removed_protected_group_needs_allow_destroy_even_without_a_state(repo, ec2, capsys):
    image = make_ami(ec2, "retired", "retired-20200101-000000", owner_of(repo))
    ec2.create_tags(Resources=[image["ImageId"]], Tags=[{"Key": "infra:protect", "Value": "true"}])
    refused = run_infra(capsys, "packer:delete", "retired")
    assert refused.code == 1 and "--allow-destroy" in refused.err and image["ImageId"] in refused.err
    assert len(amis(ec2, "retired")) == 1
    assert run_infra(capsys, "packer:delete", "retired", "--allow-destroy", "--auto-approve").code == 0
    assert amis(ec2, "retired") == []


def test_tags_a_users_template_adds_to_the_ami_are_wanted_and_filled_in_ones_ignored(repo, ec2, capsys):
    shipped = Path(packer.__file__).resolve().parents[1] / "templates" / "packer.json.j2"
    extra = '"Team": "images", "BuiltAt": "{% raw %}{{timestamp}}{% endraw %}",'
    override = shipped.read_text().replace('"tags": {', '"tags": {' + extra, 1)
    (repo / "templates").mkdir()
    (repo / "templates" / "packer.json.j2").write_text(override)
    assert run_infra(capsys, "apply", "--auto-approve").code == 0
    [web] = amis(ec2, "web")
    assert tags(web)["Team"] == "images" and tags(web)["BuiltAt"].isdigit()
    assert run_infra(capsys, "plan", "--detailed-exitcode").code == 0
    assert run_infra(capsys, "drift").code == 0
    ec2.create_tags(Resources=[web["ImageId"]], Tags=[{"Key": "Team", "Value": "nobody"}])
    drift = run_infra(capsys, "drift")
    assert drift.code == 2 and "tags.Team" in drift.out and "BuiltAt" not in drift.out


def test_amis_on_several_describe_pages_are_all_seen(repo, ec2, proxy, monkeypatch, capsys):
    """AWS answers DescribeImages in pages when asked (infra asks for 1,000 at a time); the sandbox too."""
    monkeypatch.setattr(images, "IMAGE_PAGE", 5)
    old = [make_ami(ec2, "web", f"web-2020010{n}-000000", owner_of(repo)) for n in range(1, 8)]
    first = ec2.describe_images(Owners=["self"], MaxResults=5)
    assert len(first["Images"]) == 5 and first["NextToken"]
    rest = ec2.describe_images(Owners=["self"], MaxResults=5, NextToken=first["NextToken"])
    assert {i["ImageId"] for i in first["Images"] + rest["Images"]} >= {i["ImageId"] for i in old}
    proxy.reset()
    result = run_infra(capsys, "packer:clean", "web", "-n", "2")
    assert result.code == 0, result.err
    assert [i["ImageId"] for i in amis(ec2, "web")] == [i["ImageId"] for i in old[-2:]]
    assert "kept 2 AMI(s) in all, each group's newest, across 1 group(s); removed 5." in result.out
    assert proxy.reset()["DescribeImages"] >= 2
