"""What the planner takes for granted about the desired graph: a resource's references name only
what it depends on, so one that depends on nothing holds none and is planned as it is written."""

import json

import pytest

from infra.config import parse_config
from infra.reconciler.graph import desired_graph
from infra.reconciler.refs import parse_ref, unresolved

NODES = {
    "__settings__": {"project": "acme", "promote": ["staging", "production"]},
    "__base__": {"instance_type": "m1.large", "source_ami": "ami-1ebb2077", "run_list": ["recipe[acme::base]"]},
    "__environments__": {"staging": {"region": "us-west-2"}, "production": {"region": "us-east-1"}},
    "base": {},
    "web": {"source_ami": "@base", "autoscale": {"node_min": 1, "node_max": 2}},
    "worker": {"packer": False, "autoscale": {"node_min": 0, "node_max": 1}},
    "edge": {"source_ami": "@web", "autoscale": {"node_min": 1, "node_max": 1}},
}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_every_reference_names_something_the_resource_depends_on(tmp_path, environment):
    graph = desired_graph(parse_config(json.dumps(NODES), "nodes.json", environment), tmp_path)
    referring = set()
    for resource in graph:
        named = {parse_ref(reference)[0] for reference in unresolved(resource.attributes)}
        assert named <= set(resource.depends_on), resource.address
        if named:
            referring.add(resource.kind)
    assert {"launch_template", "asg"} <= referring  # the check looked at references that are there
