"""nodes.json's `__environments__`: overlays merged with the seed's rules, each environment's own
owner and state, promotion order, and every mistake as one located line. No server."""

import json

import pytest

from infra.config import parse_config
from infra.errors import ConfigError

BASE = {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "security_groups": ["internal"],
        "default_attributes": {"team": "core"}, "tags": {"cost": "ops"}}
NODES = {
    "__settings__": {"project": "acme", "promote": ["staging", "production"]},
    "__base__": BASE,
    "__environments__": {
        "staging": {"region": "us-west-2", "tags": {"stage": "staging"}, "security_groups": ["staging"]},
        "production": {"aws": {"role_arn": "arn:aws:iam::222222222222:role/infra"},
                       "instance_type": "m3.large",
                       "groups": {"web": {"autoscale": {"node_min": 4, "node_max": 8}, "tags": {"tier": "front"}}}},
    },
    "web": {"region": "eu-west-1", "autoscale": {"node_min": 1, "node_max": 2, "timeout": 5},
            "default_attributes": {"role": "web"}},
    "worker": {"instance_type": "c5.large"},
}


def parse(document, environment=None):
    return parse_config(json.dumps(document, indent=2), "nodes.json", environment)


def error_of(document, environment=None) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(document, environment)
    message = str(caught.value)
    assert "\n" not in message
    return message


def with_environments(**environments):
    return {**NODES, "__environments__": {**NODES["__environments__"], **environments}}


def test_an_environment_merges_over_base_and_a_group_keeps_what_it_sets_itself():
    staging = parse(NODES, "staging")
    web, worker = staging.group("web"), staging.group("worker")
    assert worker.region == "us-west-2" and web.region == "eu-west-1"  # web sets its own region
    assert worker.security_groups == ["internal", "staging"]  # lists append, base's first
    assert worker.tags == {"cost": "ops", "stage": "staging"}  # objects merge one level
    assert web.default_attributes == {"team": "core", "role": "web"}
    assert worker.instance_type == "c5.large"


def test_an_environments_group_override_merges_over_the_group():
    production = parse(NODES, "production")
    web = production.group("web")
    assert (web.autoscale.node_min, web.autoscale.node_max, web.autoscale.timeout) == (4, 8, 5)
    assert web.tags == {"cost": "ops", "tier": "front"} and web.instance_type == "m3.large"
    assert production.group("worker").instance_type == "c5.large"  # the group's own value wins over the env's base


def test_each_environment_has_its_owner_state_and_predecessor():
    plain, staging, production = parse(NODES), parse(NODES, "staging"), parse(NODES, "production")
    assert (plain.owner, staging.owner, production.owner) == ("acme", "acme/staging", "acme/production")
    assert plain.environment is None and plain.group("web").region == "eu-west-1"
    assert staging.settings.state.path == ".infra/staging/state.json"
    assert production.settings.state.path == ".infra/production/state.json"
    assert staging.upstream is None and production.upstream.name == "staging"
    assert production.environment.aws.account_id == "222222222222"
    assert staging.environment.regions == ["eu-west-1", "us-west-2"]


def test_an_s3_state_gets_a_key_per_environment_and_an_environment_may_change_the_bucket():
    settings = {**NODES["__settings__"], "state": {"backend": "s3", "bucket": "ops", "key": "infra/state.json",
                                                   "lock_table": "locks"}}
    nodes = {**with_environments(production={"state": {"bucket": "prod-ops"}}), "__settings__": settings}
    assert parse(nodes, "staging").settings.state.key == "infra/staging/state.json"
    production = parse(nodes, "production").settings.state
    assert (production.bucket, production.key, production.lock_table) == ("prod-ops", "infra/production/state.json",
                                                                          "locks")


@pytest.mark.parametrize("document, expected", [
    (with_environments(staging={"regoin": "us-west-2"}),
     "environment 'staging': unknown key 'regoin'; did you mean 'region'?"),
    (with_environments(staging={"grops": {}}), "environment 'staging': unknown key 'grops'; did you mean 'groups'?"),
    (with_environments(staging={"groups": {"wbe": {}}}),
     "environment 'staging': groups: unknown group 'wbe'; did you mean 'web'?"),
    (with_environments(staging={"groups": {"web": {"autoscale": {"node_mn": 1}}}}),
     "environment 'staging': group 'web': unknown key 'autoscale.node_mn'; did you mean 'node_min'?"),
    (with_environments(staging={"groups": {"web": {"autoscale": {"node_min": 3}}}}),
     "environment 'staging': group 'web': key 'autoscale': node_min (3) is larger than node_max (2)"),
    (with_environments(staging={"instance_type": 5}), "environment 'staging': key 'instance_type': should be a "
                                                      "valid string"),
    (with_environments(Staging={}), "environment name 'Staging': use 1-20 lower-case letters"),
    (with_environments(**{"stage.1": {}}), "environment name 'stage.1'"),
    (with_environments(**{"a" * 21: {}}), "environment name 'aaaaaaaaaaaaaaaaaaaaa'"),
    (with_environments(staging=[]), "environment 'staging' must be an object of settings, not list"),
    (with_environments(staging={"aws": {"role_arn": "role/infra"}}), "environment 'staging': key 'aws.role_arn': "
                                                                     "'role/infra' is not an IAM role ARN"),
    (with_environments(staging={"aws": {"role_arn": "arn:aws:iam::222222222222:role/x", "account": "111111111111"}}),
     "role_arn is in account 222222222222, account says 111111111111; they must agree"),
    (with_environments(staging={"aws": {"profile": "s", "external_id": "xyz"}}), "external_id goes with role_arn"),
    (with_environments(staging={"state": {"path": ".infra/production/state.json"}}),
     "environments 'staging' and 'production' would share the state .infra/production/state.json"),
    (with_environments(staging={"state": {"path": "../elsewhere.json"}}),
     "environment 'staging': key 'state.path': '../elsewhere.json' is outside the repository"),
    ({**NODES, "__settings__": {"promote": ["stagng", "production"]}},
     "__settings__: promote: unknown environment 'stagng'; did you mean 'staging'?"),
    ({**NODES, "__settings__": {"promote": ["staging"]}}, "each once and at least two"),
    ({**{k: v for k, v in NODES.items() if k != "__environments__"}}, "promote names environments, but nodes.json "
                                                                       "has no __environments__"),
    ({**NODES, "__environments__": {}}, "__environments__ must be an object of environments"),
    (with_environments(production={"groups": {"web": {"packer": True}}}, staging={"packer": False}),
     "environment 'production': group 'web' has an AMI, which production promotes from staging, where the group "
     "has \"packer\": false"),
    ({**NODES, "__environment__": {}}, "unknown top-level key '__environment__'; did you mean '__environments__'?"),
])
def test_every_mistake_is_one_located_line(document, expected):
    message = error_of(document)
    assert expected in message
    line = int(message.split(":")[1])  # nodes.json:LINE:COLUMN: the line that holds the key at fault
    written = json.dumps(document, indent=2).splitlines()[line - 1]
    assert any(f'"{word}"' in written for word in ("regoin", "grops", "wbe", "node_mn", "node_min", "instance_type",
                                                    "Staging", "stage.1", "a" * 21, "staging", "role_arn", "aws",
                                                    "path", "promote", "__environments__", "production", "autoscale",
                                                    "__environment__")), (message, written)


def test_an_override_that_breaks_a_group_is_located_in_the_environment():
    nodes = with_environments(staging={"groups": {"worker": {"source_ami": "@web"}}})
    assert "environment 'staging': group 'worker': source_ami @web: group 'web' builds in eu-west-1" in error_of(nodes)
    nodes = with_environments(production={"autoscale": {"node_min": 3, "node_max": 3},
                                          "groups": {"worker": {"autoscale": {"node_max": 2}}}})
    message = error_of(nodes)  # each part is right alone; merged, worker's sizes disagree
    assert "environment 'production': group 'worker': key 'autoscale': node_min (3) is larger than node_max (2)" \
        in message
    lines = json.dumps(nodes, indent=2).splitlines()
    at = int(message.split(":")[1])
    assert '"autoscale"' in lines[at - 1] and '"worker"' in lines[at - 2]  # the environment's override of worker


def test_the_environment_chosen_must_exist_and_nodes_json_must_have_environments():
    assert error_of(NODES, "stagin") == ("nodes.json: --env stagin: unknown environment 'stagin'; "
                                         "did you mean 'staging'?")
    plain = {"__base__": BASE, "web": {}}
    assert "--env staging: nodes.json defines no environments (__environments__)" in error_of(plain, "staging")


@pytest.mark.parametrize("state, said", [
    ({"backend": "s3", "bucket": "../x"}, "bucket '../x' is not an S3 bucket name"),
    ({"backend": "s3", "bucket": "Acme_State"}, "bucket 'Acme_State' is not an S3 bucket name"),
    ({"backend": "s3", "bucket": "192.168.0.1"}, "is not an S3 bucket name"),
    ({"backend": "s3", "bucket": "acme-state", "key": ""}, "key '' is not a state object key"),
    ({"backend": "s3", "bucket": "acme-state", "key": "/"}, "key '/' is not a state object key"),
    ({"backend": "s3", "bucket": "acme-state", "key": "a/../b.json"}, "is not a state object key"),
    ({"backend": "s3", "bucket": "acme-state", "lock_table": "x"}, "lock_table 'x' is not a DynamoDB table name"),
])
def test_an_s3_state_whose_bucket_key_or_table_s3_would_refuse_fails_validate(state, said):
    assert said in error_of({**NODES, "__settings__": {"project": "acme", "state": state}})
    overlay = with_environments(staging={"state": state})
    assert said in error_of(overlay, "staging") and "staging" in error_of(overlay, "staging")
    assert parse({**NODES, "__settings__": {"state": {"backend": "s3", "bucket": "acme.ops-state",
                                                      "key": "infra/prod.json", "lock_table": "infra-locks"}}})
