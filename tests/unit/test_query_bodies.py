"""Query bodies encoded once by infra are the bytes botocore would have sent (and signed)."""

from __future__ import annotations

from urllib.parse import urlencode

import botocore.session
from botocore.awsrequest import AWSResponse
from hypothesis import given
from hypothesis import strategies as st

from infra.aws.query_bodies import encode_once, form_encoded


def botocore_encoded(body: dict) -> str:
    """What botocore's AWSPreparedRequest does with a dict body (awsrequest.py, _prepare_body)."""
    return urlencode([(name.encode("utf-8"), value.encode("utf-8") if isinstance(value, str) else value)
                      for name, value in body.items()], doseq=True)


@given(st.dictionaries(st.text(), st.text() | st.integers() | st.booleans() | st.floats()))
def test_any_names_and_values_are_encoded_as_botocore_encodes_them(body):
    assert form_encoded(body) == botocore_encoded(body)


def test_a_body_with_anything_else_is_left_to_botocore():
    assert form_encoded({"Action": "X", "Ids": ["a", "b"]}) is None
    assert form_encoded({1: "a"}) is None


def test_a_launch_template_body_is_the_same():
    body = {"Action": "CreateLaunchTemplate", "Version": "2016-11-15", "LaunchTemplateName": "infra-12_04-www",
            "LaunchTemplateData.UserData": "IyEvYmluL2Jhc2gK+/=", "TagSpecification.1.Tag.1.Value": "a b&c=d/é",
            "TagSpecification.1.Tag.1.Key": "infra:owner", "Empty": "", "MinSize": 0, "MaxSize": 10}
    assert form_encoded(body) == botocore_encoded(body)


LAUNCH_TEMPLATE = ("ec2", "create_launch_template", {
    "LaunchTemplateName": "infra-web", "ClientToken": "token",
    "LaunchTemplateData": {"ImageId": "ami-1", "UserData": "IyEv+=="},
    "TagSpecifications": [{"ResourceType": "launch-template",
                           "Tags": [{"Key": "group", "Value": "web é/x y"},
                                    {"Key": "infra:managed", "Value": "true"}]}]})
ASG = ("autoscaling", "create_auto_scaling_group", {
    "AutoScalingGroupName": "infra-web-1", "MinSize": 0, "MaxSize": 3, "DesiredCapacity": 0,
    "LaunchTemplate": {"LaunchTemplateId": "lt-1", "Version": "$Latest"}, "AvailabilityZones": ["us-east-1a"],
    "Tags": [{"Key": "group", "Value": "web", "PropagateAtLaunch": True}]})


def sent(session: botocore.session.Session, service: str, operation: str, arguments: dict) -> str:
    """The body a client of `session` sends (and signs) for one request."""
    client = session.create_client(service, region_name="us-east-1", aws_access_key_id="testing",
                                   aws_secret_access_key="testing", endpoint_url="http://127.0.0.1:9")
    seen = []

    def answer(request, **_):
        seen.append(request.body)
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send", answer)
    try:
        getattr(client, operation)(**arguments)
    except Exception:  # noqa: BLE001 (the empty answer does not parse; the request was seen)
        pass
    return seen[0]


def test_a_client_sends_what_botocore_would_send():
    for request in (LAUNCH_TEMPLATE, ASG):
        once, plain = encode_once(botocore.session.get_session()), botocore.session.get_session()
        assert sent(once, *request) == sent(plain, *request)
    assert "Tag.1.Value=web+%C3%A9%2Fx+y" in sent(encode_once(botocore.session.get_session()), *LAUNCH_TEMPLATE)
    assert "MinSize=0&MaxSize=3" in sent(encode_once(botocore.session.get_session()), *ASG)
