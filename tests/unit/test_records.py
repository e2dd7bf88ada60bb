"""Models made by the tens of thousands: lighter and faster to make, the same values."""

import pytest

from infra.reconciler.actions import ActionKind
from infra.reconciler.plan import Action
from infra.reconciler.resources import Observed


def test_an_action_made_without_validation_is_the_validated_one():
    fields = dict(address="asg.web", kind="asg", group="web", action=ActionKind.UPDATE, before={"max_size": 1},
                  after={"max_size": 2}, reason="changed: max_size", depends_on=["launch_template.web"], protect=True)
    made, validated = Action.planned(**fields), Action(**fields)
    assert made == validated and repr(made) == repr(validated)
    assert made.model_dump_json() == validated.model_dump_json()
    assert made.protected is False and made.model_copy(update={"reason": "x"}).reason == "x"
    # Every instance shares one set of its fields (as if each had been given all of them).
    assert made.model_fields_set == validated.model_fields_set == set(Action.model_fields)
    assert made.model_fields_set is Action.planned(**fields).model_fields_set


def test_an_observation_made_from_a_providers_values_is_the_validated_one():
    made = Observed.of({"path": "roles/r.json"}, {"path": "roles/r.json"})
    assert made == Observed(attributes={"path": "roles/r.json"}, outputs={"path": "roles/r.json"})


def test_made_needs_every_field_and_no_other():
    with pytest.raises(TypeError, match=r"Observed.made needs every field, exactly: \['earlier'\]"):
        Observed.made(attributes={}, outputs={})
    with pytest.raises(TypeError, match=r"needs every field, exactly: \['extra'\]"):
        Observed.made(attributes={}, outputs={}, earlier={}, extra=1)
