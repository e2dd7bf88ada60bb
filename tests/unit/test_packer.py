"""Packer's machine-readable output, the template infra renders, and its copy for other endpoints. No packer run."""

import json
import os
import sys

import pytest

from infra.config import load_config
from infra.errors import ProviderError
from infra.providers import packer
from infra.providers.aws.image_builds import image_in, is_aws_endpoint
from infra.reconciler.graph import desired_graph

SAY = "1700000000,,ui,say,==> amazon-ebs: Creating AMI web-1 from instance i-1"
MESSAGE = "1700000000,,ui,message,    amazon-ebs: Found Image ID: ami-1ebb2077"
ARTIFACT = "1700000001,amazon-ebs,artifact,0,id,us-east-1:ami-0123abcd"
ERROR = ("1700000001,amazon-ebs,error,Error querying AMI: InvalidAMIID.NotFound: The image id '[ami-deadbeef]' "
         "does not exist\\n\tstatus code: 400%!(PACKER_COMMA) request id: abc")


def test_an_event_has_its_fields_with_commas_and_newlines_restored():
    event = packer.parse_event(ERROR)
    assert (event.timestamp, event.target, event.type) == ("1700000001", "amazon-ebs", "error")
    assert event.data == ("Error querying AMI: InvalidAMIID.NotFound: The image id '[ami-deadbeef]' does not exist"
                          "\n\tstatus code: 400, request id: abc",)
    assert packer.parse_event(ARTIFACT).data == ("0", "id", "us-east-1:ami-0123abcd")


@pytest.mark.parametrize("line", ["", "2024/01/01 12:00:00 some log line", "not,enough"])
def test_lines_that_are_not_events_are_none(line):
    assert packer.parse_event(line) is None


def test_ui_events_become_the_lines_packer_would_have_shown():
    assert packer.ui_lines(packer.parse_event(SAY)) == ["==> amazon-ebs: Creating AMI web-1 from instance i-1"]
    assert packer.ui_lines(packer.parse_event(MESSAGE)) == ["    amazon-ebs: Found Image ID: ami-1ebb2077"]
    multi = packer.parse_event("1,,ui,say,\\n==> Builds finished. The artifacts:\\n")
    assert packer.ui_lines(multi) == ["==> Builds finished. The artifacts:"]
    assert packer.ui_lines(packer.parse_event(ARTIFACT)) == []


def test_a_build_result_collects_artifacts_errors_and_shows_progress():
    shown: list[str] = []
    result = packer.BuildResult()
    for line in (SAY, MESSAGE, ARTIFACT, ERROR, "plain text from packer\n"):
        packer._take(line + "\n", result, shown.append)
    assert result.artifacts == ["us-east-1:ami-0123abcd"]
    assert shown[:2] == ["==> amazon-ebs: Creating AMI web-1 from instance i-1",
                         "    amazon-ebs: Found Image ID: ami-1ebb2077"]
    assert "plain text from packer" in shown
    assert packer.failure(result) == ("Error querying AMI: InvalidAMIID.NotFound: The image id '[ami-deadbeef]' "
                                      "does not exist")


def test_a_failure_without_error_events_falls_back_to_the_last_lines():
    assert packer.failure(packer.BuildResult(output=["a", "b"])) == "a"
    assert "printed nothing" in packer.failure(packer.BuildResult())


def test_the_ami_for_the_region_is_picked_from_the_artifact_ids():
    assert image_in(["us-east-1:ami-1"], "us-east-1") == "ami-1"
    assert image_in(["eu-west-1:ami-2,us-east-1:ami-1"], "us-east-1") == "ami-1"
    assert image_in(["eu-west-1:ami-2"], "us-east-1") == "ami-2"
    with pytest.raises(ProviderError, match="named no AMI"):
        image_in([], "us-east-1")


@pytest.mark.parametrize("url, aws", [
    ("http://127.0.0.1:5000", False), ("http://localstack:4566", False),
    ("https://ec2.us-east-1.amazonaws.com", True), ("https://vpce-1.ec2.us-east-1.vpce.amazonaws.com", True),
    ("https://ec2.cn-north-1.amazonaws.com.cn", True), ("https://ec2.us-east-1.api.aws", True),
])
def test_which_endpoints_are_aws(url, aws):
    assert is_aws_endpoint(url) is aws


TEMPLATE = {
    "variables": {"source_ami": "ami-1", "source_hash": ""},
    "builders": [{"type": "amazon-ebs", "region": "us-east-1", "ssh_username": "ubuntu"},
                 {"type": "docker", "image": "ubuntu"}],
    "provisioners": [{"type": "chef-solo", "run_list": ["role[role-web]"]}, {"type": "shell", "inline": ["true"]}],
}


def test_a_copy_for_an_endpoint_that_is_not_aws_needs_no_communicator_and_drops_provisioners():
    derived, notes = packer.for_endpoint(TEMPLATE, "http://127.0.0.1:5000", offline=True)
    builder = derived["builders"][0]
    assert builder["custom_endpoint_ec2"] == "http://127.0.0.1:5000"
    assert builder["communicator"] == "none"
    assert builder["skip_region_validation"] and builder["skip_credential_validation"]
    assert builder["skip_metadata_api_check"]
    assert derived["builders"][1] == {"type": "docker", "image": "ubuntu"}  # not an AWS builder
    assert "provisioners" not in derived
    assert any("2 provisioner(s) (chef-solo, shell) are left out" in note for note in notes)
    assert TEMPLATE["provisioners"] and "custom_endpoint_ec2" not in TEMPLATE["builders"][0]  # original untouched


def test_a_copy_for_an_aws_endpoint_only_sets_the_endpoint():
    derived, notes = packer.for_endpoint(TEMPLATE, "https://vpce-1.ec2.us-east-1.vpce.amazonaws.com", offline=False)
    assert derived["builders"][0]["custom_endpoint_ec2"].startswith("https://vpce-1")
    assert "communicator" not in derived["builders"][0]
    assert derived["provisioners"] == TEMPLATE["provisioners"]
    assert len(notes) == 1


def test_declared_variables():
    assert packer.declared_variables(TEMPLATE) == {"source_ami", "source_hash"}
    assert packer.declared_variables({}) == set()


def test_load_template_says_what_is_wrong(tmp_path):
    with pytest.raises(ProviderError, match="no such packer template"):
        packer.load_template(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"builders": [')
    with pytest.raises(ProviderError, match=r"bad.json:1:\d+: not valid JSON"):
        packer.load_template(tmp_path / "bad.json")


def test_packer_missing_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(packer.shutil, "which", lambda name: None)
    with pytest.raises(ProviderError, match="packer is not installed"):
        packer.binary()


# -- the template infra renders -------------------------------------------------------------------

NODES = {
    "__settings__": {"project": "acme-ops"},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
                 "run_list": ["recipe[base]"], "tags": {"team": "ops"}},
    "base": {},
    "web": {"source_ami": "@base", "instance_type": "c5.large", "ssh_username": "admin"},
}


def rendered(tmp_path) -> dict[str, dict]:
    (tmp_path / "nodes.json").write_text(json.dumps(NODES))
    graph = desired_graph(load_config(tmp_path / "nodes.json"), tmp_path)
    return {r.group: r.attributes["document"] for r in graph if r.kind == "packer_template"}


def test_the_template_has_the_groups_builder_tags_and_chef_solo_with_its_role(tmp_path):
    template = rendered(tmp_path)["base"]
    builder = template["builders"][0]
    assert template["variables"]["source_ami"] == "ami-1ebb2077"
    assert set(template["variables"]) == {"source_ami", "source_hash", "region", "security_group_ids"}
    assert builder["type"] == "amazon-ebs" and builder["instance_type"] == "m1.large"
    assert builder["region"] == "{{user `region`}}" and template["variables"]["region"] == "us-east-1"
    assert builder["security_group_ids"] == "{{user `security_group_ids`}}"
    assert builder["ami_name"].startswith("base-{{isotime")
    assert builder["tags"] == {"team": "ops", "Name": "base", "group": "base", "infra:managed": "true",
                               "infra:owner": "acme-ops", "infra:source_hash": "{{user `source_hash`}}"}
    assert builder["snapshot_tags"] == builder["tags"]
    # the build instance is not one of the group's nodes: no group or infra:managed tag on it, but whose build it is
    assert builder["run_tags"] == {"team": "ops", "Name": "packer build: base", "infra:build": "base",
                                   "infra:owner": "acme-ops"}
    assert template["provisioners"] == [{"type": "chef-solo", "cookbook_paths": ["cookbooks"], "roles_path": "roles",
                                         "run_list": ["role[role-base]"]}]
    assert "source_ami_filter" not in builder


def test_a_group_built_from_another_finds_its_newest_ami_by_tags(tmp_path):
    template = rendered(tmp_path)["web"]
    builder = template["builders"][0]
    assert template["variables"]["source_ami"] == ""
    assert builder["source_ami_filter"] == {"filters": {"tag:group": "base", "tag:infra:managed": "true",
                                                        "tag:infra:owner": "acme-ops", "state": "available"},
                                            "owners": ["self"], "most_recent": True}
    assert builder["ssh_username"] == "admin"


def test_no_credentials_in_the_template(tmp_path):
    for template in rendered(tmp_path).values():
        text = json.dumps(template).lower()
        assert "secret" not in text and "access_key" not in text and "token" not in text


def test_a_group_cannot_build_from_a_group_that_builds_no_ami(tmp_path):
    from infra.errors import ConfigError

    (tmp_path / "nodes.json").write_text(json.dumps({**NODES, "base": {"packer": False}}))
    with pytest.raises(ConfigError, match="group 'base' has \"packer\": false, so it has no AMI to build from"):
        load_config(tmp_path / "nodes.json")


def test_interrupting_the_builds_stops_a_running_packer_the_way_ctrl_c_would(tmp_path, monkeypatch):
    """For SIGTERM, which reaches infra but not packer: packer gets its interrupt and cleans up."""
    import threading

    fake = tmp_path / "bin" / "packer"
    fake.parent.mkdir()
    # Python, not sh: a shell cannot trap a signal ignored when it started (as SIGINT is under a
    # background job of a non-interactive shell, where the suite may run); packer (Go) can, as Python.
    fake.write_text(f"#!{sys.executable}\n"
                    "import signal, sys, time\n"
                    "def cancelled(*_):\n"
                    "    print('1,amazon-ebs,error,Build was cancelled.', flush=True)\n"
                    "    sys.exit(1)\n"
                    "signal.signal(signal.SIGINT, cancelled)\n"
                    "print('1,,ui,say,building', flush=True)\n"
                    "time.sleep(60)\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    template = tmp_path / "web.json"
    template.write_text("{}")
    raised: list[BaseException] = []
    said: list[str] = []

    def run() -> None:
        try:
            packer.build(template, {}, cwd=tmp_path, env=dict(os.environ), progress=said.append)
        except BaseException as exc:  # noqa: BLE001 - the test reads it
            raised.append(exc)

    builder = threading.Thread(target=run)
    builder.start()
    while "building" not in said and builder.is_alive():
        threading.Event().wait(0.05)
    packer.interrupt_builds()
    builder.join(timeout=30)
    assert not builder.is_alive(), "packer was not interrupted"
    assert raised and isinstance(raised[0], ProviderError)
    assert "Build was cancelled" in str(raised[0])
