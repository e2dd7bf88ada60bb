"""The shipped templates built without jinja (shipped_templates.py) are what rendering
infra/templates/packer.json.j2 and user-data.sh.j2 gives, key order and every character included:
the documents a plan shows, and the digests an AMI is built from. No server."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.config import parse_config
from infra.config.chef import dna_document
from infra.reconciler.graph import Scope, group_tags, group_user_data, packer_template
from infra.reconciler.shipped_templates import SHIPPED, USER_DATA, shipped_packer_template
from infra.rendering import render_json, render_text

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
# Text from nodes.json as users write it, and what packer would evaluate or JSON must escape.
# (nodes.json refuses unprintable characters in them: they reach AWS, packer or a file name.)
TEXTS = st.one_of(st.text(st.sampled_from(string.ascii_letters + string.digits + string.punctuation + " \u00e9\u65e5"),
                          max_size=12),
                  st.sampled_from(["{{ template_dir }}", "{{", '"quoted"', "back\\slash", "{{user `x`}}"]))
TAG_KEYS = st.from_regex(r"[a-z][a-z0-9:._-]{0,8}", fullmatch=True).filter(lambda key: not key.startswith("infra"))


@st.composite
def groups(draw):
    """A nodes.json of a group (maybe built from another group's AMI), and the scope it is planned in."""
    name, source = draw(NAMES), draw(NAMES)
    group = {"instance_type": draw(TEXTS.filter(bool)), "ssh_username": draw(TEXTS),
             "description": draw(TEXTS), "tags": draw(st.dictionaries(TAG_KEYS, TEXTS, max_size=4)),
             "region": draw(st.sampled_from(["us-east-1", "eu-west-2"]))}
    built_from_another = draw(st.booleans()) and source != name
    nodes = {"__settings__": {"project": draw(NAMES.filter(lambda p: p[0].isalnum()))},
             "__base__": {"source_ami": "ami-1ebb2077"},
             name: {**group, "source_ami": f"@{source}"} if built_from_another else group}
    if built_from_another:
        nodes[source] = {"instance_type": "m1.small", "region": group["region"]}
    config = parse_config(json.dumps(nodes), "nodes.json")
    environment = draw(st.one_of(st.none(), NAMES))
    return config.groups[name], Scope.of(config.project.name, environment)


def rendered(group, root, scope):
    return render_json(root, SHIPPED, group=group, role=f"role-{group.name}",
                       source_ami="" if group.source_group else group.source_ami,
                       tags=group_tags(group, scope.owner), owner=scope.owner, environment=scope.environment,
                       roles_path=scope.layout.roles)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=groups())
def test_the_built_template_is_the_rendered_one_key_for_key(case, tmp_path):
    group, scope = case
    context = {"role": f"role-{group.name}", "source_ami": "" if group.source_group else group.source_ami,
               "tags": group_tags(group, scope.owner), "owner": scope.owner, "environment": scope.environment,
               "roles_path": scope.layout.roles}
    assert shipped_packer_template(group, **context) is not None  # built, not rendered: the comparison means it
    built = packer_template(group, tmp_path, scope)
    assert json.dumps(built) == json.dumps(rendered(group, tmp_path, scope))


def test_a_name_the_template_writes_as_it_is_must_be_plain_or_the_template_is_rendered():
    config = parse_config(json.dumps({"web": {"instance_type": "m1.small", "source_ami": "ami-1ebb2077"}}))
    group = config.groups["web"]
    assert shipped_packer_template(group, role='role-"web"', source_ami="ami-1", tags={}, owner="acme",
                                   environment=None, roles_path="roles") is None


def test_an_ops_repositorys_own_template_is_rendered(tmp_path):
    config = parse_config(json.dumps({"web": {"instance_type": "m1.small", "source_ami": "ami-1ebb2077"}}))
    (tmp_path / "templates").mkdir()
    own = '{"builders": [{"type": "amazon-ebs", "ami_name": "{{ group.name }}"}]}'
    (tmp_path / "templates" / SHIPPED).write_text(own)
    assert packer_template(config.groups["web"], tmp_path, Scope.of("acme", None)) == {
        "builders": [{"type": "amazon-ebs", "ami_name": "web"}]}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=groups(), node=st.one_of(st.none(), NAMES), attributes=st.dictionaries(TAG_KEYS, TEXTS, max_size=3))
def test_the_built_user_data_is_the_rendered_one(case, node, attributes, tmp_path):
    """For a group's launch template (its dna names the group) and a one-off instance (its own name),
    dna holding text a shell heredoc or HTML would mind (quotes, <, &)."""
    group, scope = case
    dna = {**dna_document(node or group.name, group.name), **attributes}
    built = group_user_data(group, dna, tmp_path, scope.environment)
    assert built == render_text(tmp_path, USER_DATA, group=group, dna=dna, environment=scope.environment)


def test_an_ops_repositorys_own_user_data_is_rendered(tmp_path):
    config = parse_config(json.dumps({"web": {"instance_type": "m1.small", "source_ami": "ami-1ebb2077"}}))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / USER_DATA).write_text("#!/bin/sh\necho {{ group.name }} {{ dna.id }}\n")
    user_data = group_user_data(config.groups["web"], dna_document("web", "web"), tmp_path, None)
    assert user_data == "#!/bin/sh\necho web web\n"
