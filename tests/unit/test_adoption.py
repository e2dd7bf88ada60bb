"""What may be imported, and look-alikes in a plan, pure: no server."""

import pytest

from infra.operations.adoption import refusal
from infra.reconciler.planner import plan
from infra.reconciler.resources import Observed, Unowned
from infra.state.model import State
from tests.unit.test_planner import asg, graph

OURS = "acme-ops"


@pytest.mark.parametrize("tags, launched_by, said", [
    ({}, "", ""),
    ({"Name": "web", "team": "frontend"}, "", ""),
    ({"group": "web"}, "", ""),  # the seed's own tag, of this very group: importable
    ({"group": "db"}, "", "is tagged group=db: it belongs to group db"),
    ({"infra:managed": "true", "group": "web"}, "", "was made by infra before owner tags (group web): adopt it with"),
    ({"infra:managed": "true", "infra:owner": "team-b"}, "", "belongs to project 'team-b' (infra:owner)"),
    ({"infra:managed": "true", "infra:owner": OURS, "group": "api"}, "",
     "is already managed by this project (group api)"),
    ({}, "web-1a2b", "was launched by autoscaling group web-1a2b and comes and goes with it; import the group instead: "
                     "infra import web --asg web-1a2b"),
])
def test_only_what_no_one_else_claims_may_be_imported(tags, launched_by, said):
    why = refusal(tags, group="web", owner=OURS, described="the thing", launched_by=launched_by)
    assert (why == "") if not said else (said in why and why.startswith("the thing "))


def test_a_look_alike_made_without_infra_is_named_with_its_import_and_never_adopted():
    look_alike = Unowned(address="asg.web", owner="", description="autoscaling group web in us-east-1",
                         observed=Observed(attributes={"name": "web"}), importable="--asg web")
    for adopt in (False, True):
        result = plan(graph(asg()), {}, State(), unowned=[look_alike], adopt=adopt)
        assert [a.action.name for a in result.actions] == ["CREATE"]
        [notice] = result.notices
        assert notice.import_command == "infra import web --asg web" and not notice.blocking
        assert notice.reason.endswith("to manage this one instead, import it: infra import web --asg web")
