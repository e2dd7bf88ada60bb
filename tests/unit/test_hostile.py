"""The hostile sandbox's layer, without a server: its knobs, its faults as botocore reads them, and
its clock of what was made (on canned AWS XML and a fake clock)."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import botocore.awsrequest
import botocore.parsers
import botocore.session
import pytest
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker, TransientRetryableChecker

from infra.errors import InfraError
from infra.sandbox.hostile import Hostile, Knobs
from infra.sandbox.lag import World
from tests.support.fake_clock import FakeClock

QUIET = Knobs(latency=0, throttle=0, errors=0, lag=0, pending=0, initial=0, ami_pending=0, failed_launches=0)


def test_knobs_are_set_by_name_and_a_bad_one_is_one_line():
    knobs = Knobs.parse(["throttle=0.1", "initial=10", "failing-zone=c"], seed=7)
    assert (knobs.seed, knobs.throttle, knobs.initial, knobs.failing_zone) == (7, 0.1, 10.0, "c")
    assert Knobs.from_json(knobs.to_json()) == knobs
    for bad, said in (("throtle=0.1", "unknown knob 'throtle'; did you mean 'throttle'"),
                      ("scan_lg=3", "did you mean 'scan_lag'"), ("warp=3", "known: 'latency', 'throttle'"),
                      ("throttle=2", "throttle=2: give a share from 0 to 1"),
                      ("lag=soon", "lag=soon: give a number"), ("lag", "give name=value"),
                      ("seed=3", "--hostile-seed sets the seed")):
        with pytest.raises(InfraError, match=said):
            Knobs.parse([bad])


class Moto:
    """moto's application, as far as the layer sees it: answers `body` to everything, counting calls."""

    def __init__(self, body: bytes = b"<R/>") -> None:
        self.body, self.calls = body, 0

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(self.body)))])
        return [self.body]


def environ(service: str, action: str, **params: str) -> dict[str, Any]:
    body = "&".join([f"Action={action}", *(f"{k}={v}" for k, v in params.items())]).encode()
    return {"PATH_INFO": "/", "REQUEST_METHOD": "POST", "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/x-www-form-urlencoded", "wsgi.input": io.BytesIO(body),
            "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/{service}/aws4_request, "
                                  f"SignedHeaders=host, Signature=0"}


def called(layer: Hostile, env: dict[str, Any]) -> tuple[int, bytes]:
    said: dict[str, str] = {}
    body = b"".join(layer(env, lambda status, headers, *_: said.setdefault("status", status)))
    return int(said["status"].split()[0]), body


def parsed(service: str, status: int, body: bytes) -> dict[str, Any]:
    protocol = "ec2" if service == "ec2" else "query"
    return botocore.parsers.create_parser(protocol).parse({"status_code": status, "headers": {}, "body": body}, None)


@pytest.mark.parametrize(("service", "status", "code"), [("ec2", 503, "RequestLimitExceeded"),
                                                          ("autoscaling", 400, "Throttling"),
                                                          ("elasticloadbalancing", 400, "Throttling")])
def test_a_throttled_request_is_one_botocore_retries_as_throttling_and_never_reaches_moto(service, status, code):
    moto = Moto()
    layer = Hostile(moto, Knobs(**{**QUIET.__dict__, "throttle": 1.0}), sleep=lambda s: None)
    got, body = called(layer, environ(service, "DescribeThings"))
    response = parsed(service, got, body)
    assert (got, response["Error"]["Code"], moto.calls) == (status, code, 0)
    context = RetryContext(attempt_number=1, parsed_response=response,
                           http_response=botocore.awsrequest.AWSResponse("", got, {}, None))
    assert ThrottledRetryableChecker().is_retryable(context)


def test_a_5xx_is_one_botocore_retries_as_transient():
    layer = Hostile(Moto(), Knobs(**{**QUIET.__dict__, "errors": 1.0}), sleep=lambda s: None)
    got, body = called(layer, environ("autoscaling", "CreateAutoScalingGroup"))
    response = parsed("autoscaling", got, body)
    assert (got, response["Error"]["Code"]) == (500, "InternalFailure")
    context = RetryContext(attempt_number=1, parsed_response=response,
                           http_response=botocore.awsrequest.AWSResponse("", got, {}, None))
    assert TransientRetryableChecker().is_retryable(context)


def test_the_same_seed_gives_the_same_faults_and_other_services_are_left_alone():
    def faults(seed: int) -> list[int]:
        layer = Hostile(Moto(), Knobs(**{**QUIET.__dict__, "seed": seed, "throttle": 0.3}), sleep=lambda s: None)
        return [called(layer, environ("ec2", "DescribeInstances"))[0] for _ in range(40)]

    assert faults(1) == faults(1) and faults(1) != faults(2) and 503 in faults(1)
    moto = Moto()
    layer = Hostile(moto, Knobs(**{**QUIET.__dict__, "throttle": 1.0}), sleep=lambda s: None)
    s3 = environ("s3", "GetObject")
    assert called(layer, s3)[0] == 200 and moto.calls == 1


def test_the_layer_counts_the_requests_it_saw_and_the_faults_it_gave():
    layer = Hostile(Moto(), Knobs(**{**QUIET.__dict__, "seed": 4, "throttle": 0.5}), sleep=lambda s: None)
    statuses = [called(layer, environ("autoscaling", "DescribeAutoScalingGroups"))[0] for _ in range(30)]
    env = {"PATH_INFO": "/moto-api/hostile", "REQUEST_METHOD": "GET"}
    status, body = called(layer, env)
    assert status == 200
    assert json.loads(body) == {"requests": 30, "Throttling": statuses.count(400)} and 0 < statuses.count(400) < 30


def test_each_request_takes_about_the_latency():
    slept: list[float] = []
    layer = Hostile(Moto(), Knobs(**{**QUIET.__dict__, "latency": 0.2}), sleep=slept.append)
    for _ in range(20):
        called(layer, environ("ec2", "DescribeImages"))
    assert len(slept) == 20 and all(0.1 <= s <= 0.3 for s in slept)


# -- the clock of what was made --------------------------------------------------------------------

EC2 = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"'
ASG = 'xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"'
ELB = 'xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"'


def world(clock: FakeClock, **knobs: float) -> World:
    settings = {"lag": 0.0, "pending": 0.0, "initial": 0.0, "ami_pending": 0.0, "failed_launches": 0.0,
                "launch_retry": 0.0, **knobs}
    return World(**settings, failing_zone="a", random=random.Random(0), clock=clock)  # type: ignore[arg-type]


def test_a_launch_template_is_unknown_to_auto_scaling_for_the_lag_then_known():
    clock = FakeClock()
    lag = world(clock, lag=5)
    lag.rewritten("ec2", "CreateLaunchTemplate", {}, (
        f"<CreateLaunchTemplateResponse {EC2}><launchTemplate><launchTemplateId>lt-0ab1</launchTemplateId>"
        f"<launchTemplateName>acme.web</launchTemplateName><latestVersionNumber>1</latestVersionNumber>"
        f"</launchTemplate></CreateLaunchTemplateResponse>").encode())
    request = {"LaunchTemplate.LaunchTemplateId": "lt-0ab1", "LaunchTemplate.Version": "1"}
    refused = lag.refused("autoscaling", "CreateAutoScalingGroup", request)
    assert refused is not None and refused.code == "ValidationError"
    assert "launch template, with template ID lt-0ab1, does not exist" in refused.message
    assert lag.refused("autoscaling", "CreateAutoScalingGroup",
                       {"LaunchTemplate.LaunchTemplateName": "acme.web"}) is not None
    clock.now = 5
    assert lag.refused("autoscaling", "CreateAutoScalingGroup", request) is None


def test_an_instance_and_an_ami_are_unknown_by_id_for_the_lag():
    clock = FakeClock()
    lag = world(clock, lag=3)
    lag.rewritten("ec2", "RunInstances", {}, f"<R {EC2}><instancesSet><item><instanceId>i-0abc</instanceId>"
                                             f"</item></instancesSet></R>".encode())
    lag.rewritten("ec2", "CopyImage", {}, f"<R {EC2}><imageId>ami-0def</imageId></R>".encode())
    assert lag.refused("ec2", "DescribeInstances", {"InstanceId.1": "i-0abc"}).code == "InvalidInstanceID.NotFound"
    assert lag.refused("ec2", "CreateTags", {"ResourceId.1": "ami-0def"}).code == "InvalidAMIID.NotFound"
    assert lag.refused("ec2", "DescribeInstances", {}) is None  # a filtered describe is not refused
    clock.now = 3
    assert lag.refused("ec2", "DescribeImages", {"ImageId.1": "ami-0def"}) is None


def test_a_key_pair_just_imported_is_unknown_to_run_instances_for_the_lag():
    clock = FakeClock()
    lag = world(clock, lag=2)
    lag.rewritten("ec2", "ImportKeyPair", {}, f"<R {EC2}><keyName>deploy</keyName></R>".encode())
    assert lag.refused("ec2", "RunInstances", {"KeyName": "deploy"}).code == "InvalidKeyPair.NotFound"
    clock.now = 2
    assert lag.refused("ec2", "RunInstances", {"KeyName": "deploy"}) is None


def target_health(state: str = "healthy") -> bytes:
    return (f"<DescribeTargetHealthResponse {ELB}><DescribeTargetHealthResult><TargetHealthDescriptions><member>"
            f"<Target><Id>i-0abc</Id><Port>80</Port></Target><TargetHealth><State>{state}</State></TargetHealth>"
            f"</member></TargetHealthDescriptions></DescribeTargetHealthResult></DescribeTargetHealthResponse>")\
        .encode()


def asg_groups(zone: str = "us-east-1b") -> bytes:
    return (f"<DescribeAutoScalingGroupsResponse {ASG}><DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
            f"<AutoScalingGroupName>web-1</AutoScalingGroupName><Instances><member><InstanceId>i-0abc</InstanceId>"
            f"<AvailabilityZone>{zone}</AvailabilityZone><LifecycleState>InService</LifecycleState>"
            f"<HealthStatus>Healthy</HealthStatus></member></Instances></member></AutoScalingGroups>"
            f"</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>").encode()


def answer(service: str, operation: str, body: bytes) -> dict[str, Any]:
    """The response as boto3 gives it."""
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    return botocore.parsers.create_parser(model.metadata["protocol"]).parse(
        {"status_code": 200, "headers": {}, "body": body}, model.output_shape)


def states(lag: World) -> tuple[str, str]:
    """The instance's lifecycle state in its ASG, and its target's state, as boto3 would read them."""
    [group] = answer("autoscaling", "DescribeAutoScalingGroups", lag.rewritten(
        "autoscaling", "DescribeAutoScalingGroups", {}, asg_groups()))["AutoScalingGroups"]
    [target] = answer("elbv2", "DescribeTargetHealth", lag.rewritten(
        "elasticloadbalancing", "DescribeTargetHealth", {}, target_health()))["TargetHealthDescriptions"]
    return group["Instances"][0]["LifecycleState"], target["TargetHealth"]["State"]


def test_an_instance_is_pending_then_its_target_initial_then_healthy():
    clock = FakeClock()
    lag = world(clock, pending=2, initial=3)
    assert states(lag) == ("Pending", "initial")
    clock.now = 2
    assert states(lag) == ("InService", "initial")
    clock.now = 5
    assert states(lag) == ("InService", "healthy")


def test_a_launch_that_fails_in_the_failing_zone_is_missing_then_retried_and_its_activity_says_why():
    clock = FakeClock()
    lag = world(clock, failed_launches=1.0, launch_retry=4)
    assert b"i-0abc" not in lag.rewritten("autoscaling", "DescribeAutoScalingGroups", {}, asg_groups("us-east-1a"))
    assert b"i-0abc" not in lag.rewritten("elasticloadbalancing", "DescribeTargetHealth", {}, target_health())
    activities = lag.rewritten("autoscaling", "DescribeScalingActivities", {"AutoScalingGroupName": "web-1"}, (
        f"<DescribeScalingActivitiesResponse {ASG}><DescribeScalingActivitiesResult><Activities/>"
        f"</DescribeScalingActivitiesResult></DescribeScalingActivitiesResponse>").encode())
    [activity] = answer("autoscaling", "DescribeScalingActivities", activities)["Activities"]
    assert activity["StatusCode"] == "Failed" and "(us-east-1a)" in activity["StatusMessage"]
    assert activity["StatusMessage"].startswith("We currently do not have sufficient capacity")  # AWS's words
    clock.now = 4
    assert b"i-0abc" in lag.rewritten("autoscaling", "DescribeAutoScalingGroups", {}, asg_groups("us-east-1a"))
    assert lag.rewritten("autoscaling", "DescribeAutoScalingGroups", {}, asg_groups("us-east-1b")) == \
        asg_groups("us-east-1b")  # another zone launches at once


def test_an_ami_just_made_is_pending_for_a_while():
    clock = FakeClock()
    lag = world(clock, ami_pending=10)
    lag.rewritten("ec2", "CreateImage", {}, f"<R {EC2}><imageId>ami-0def</imageId></R>".encode())
    images = f"<R {EC2}><imagesSet><item><imageId>ami-0def</imageId><imageState>available</imageState></item>" \
             f"</imagesSet></R>".encode()
    assert b">pending<" in lag.rewritten("ec2", "DescribeImages", {}, images)
    clock.now = 10
    assert lag.rewritten("ec2", "DescribeImages", {}, images) == images


def test_a_reset_forgets_what_was_made():
    clock = FakeClock()
    lag = world(clock, lag=5)
    lag.rewritten("ec2", "CreateImage", {}, f"<R {EC2}><imageId>ami-0def</imageId></R>".encode())
    lag.clear()
    assert lag.refused("ec2", "DescribeImages", {"ImageId.1": "ami-0def"}) is None


def asg_listing(*names: str) -> bytes:
    members = "".join(f"<member><AutoScalingGroupName>{name}</AutoScalingGroupName><Instances/></member>"
                      for name in names)
    return (f"<DescribeAutoScalingGroupsResponse {ASG}><DescribeAutoScalingGroupsResult><AutoScalingGroups>"
            f"{members}</AutoScalingGroups></DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>"
            ).encode()


def listed(lag: World, service: str, action: str, params: dict[str, str], body: bytes, key: str) -> list[str]:
    """What boto3 reads of the rewritten answer: each item's `key`."""
    parsed = answer(service, action, lag.rewritten(service, action, params, body))
    return [item[key] for item in next(v for v in parsed.values() if isinstance(v, list))]


def test_an_asg_just_made_is_left_out_of_listings_for_the_scan_lag_but_shown_by_name():
    clock = FakeClock()
    lag = world(clock, lag=1, scan_lag=4)
    lag.rewritten("autoscaling", "CreateAutoScalingGroup", {"AutoScalingGroupName": "web-2"},
                  f"<CreateAutoScalingGroupResponse {ASG}/>".encode())
    scan = {"Filters.member.1.Name": "tag:infra:managed", "Filters.member.1.Values.member.1": "true"}
    assert listed(lag, "autoscaling", "DescribeAutoScalingGroups", scan, asg_listing("web-1", "web-2"),
                  "AutoScalingGroupName") == ["web-1"]
    assert listed(lag, "autoscaling", "DescribeAutoScalingGroups", {}, asg_listing("web-2"),
                  "AutoScalingGroupName") == []  # every group, unfiltered: a listing too
    by_name = {"AutoScalingGroupNames.member.1": "web-2"}
    assert listed(lag, "autoscaling", "DescribeAutoScalingGroups", by_name, asg_listing("web-2"),
                  "AutoScalingGroupName") == ["web-2"]
    clock.now = 4
    assert listed(lag, "autoscaling", "DescribeAutoScalingGroups", scan, asg_listing("web-1", "web-2"),
                  "AutoScalingGroupName") == ["web-1", "web-2"]


def test_a_launch_template_and_an_ami_just_made_are_left_out_of_listings_for_the_scan_lag():
    clock = FakeClock()
    lag = world(clock, lag=1, scan_lag=3)
    lag.rewritten("ec2", "CreateLaunchTemplate", {}, (
        f"<CreateLaunchTemplateResponse {EC2}><launchTemplate><launchTemplateId>lt-0ab1</launchTemplateId>"
        f"<launchTemplateName>acme.web</launchTemplateName><latestVersionNumber>1</latestVersionNumber>"
        f"</launchTemplate></CreateLaunchTemplateResponse>").encode())
    lag.rewritten("ec2", "CreateImage", {}, f"<R {EC2}><imageId>ami-0def</imageId></R>".encode())
    templates = (f"<DescribeLaunchTemplatesResponse {EC2}><launchTemplates>"
                 + "".join(f"<item><launchTemplateId>{ident}</launchTemplateId></item>" for ident in ("lt-0old",
                                                                                                       "lt-0ab1"))
                 + "</launchTemplates></DescribeLaunchTemplatesResponse>").encode()
    images = (f"<DescribeImagesResponse {EC2}><imagesSet><item><imageId>ami-0def</imageId>"
              f"<imageState>available</imageState></item></imagesSet></DescribeImagesResponse>").encode()
    scan = {"Filter.1.Name": "tag:infra:managed", "Filter.1.Value.1": "true"}
    assert listed(lag, "ec2", "DescribeLaunchTemplates", scan, templates, "LaunchTemplateId") == ["lt-0old"]
    assert listed(lag, "ec2", "DescribeLaunchTemplates", {"LaunchTemplateId.1": "lt-0ab1"}, templates,
                  "LaunchTemplateId") == ["lt-0old", "lt-0ab1"]  # by id: shown (moto answered only what was asked)
    assert listed(lag, "ec2", "DescribeImages", {"Owner.1": "self", **scan}, images, "ImageId") == []
    clock.now = 1
    assert listed(lag, "ec2", "DescribeImages", {"ImageId.1": "ami-0def"}, images, "ImageId") == ["ami-0def"]
    clock.now = 3
    assert listed(lag, "ec2", "DescribeLaunchTemplates", scan, templates, "LaunchTemplateId") == ["lt-0old", "lt-0ab1"]
    assert listed(lag, "ec2", "DescribeImages", scan, images, "ImageId") == ["ami-0def"]



def instance_listing(*reservations: list[str]) -> bytes:
    """A DescribeInstances answer: each reservation's instances, running."""
    held = "".join(f"<item><reservationId>r-{n}</reservationId><instancesSet>"
                   + "".join(f"<item><instanceId>{i}</instanceId><instanceState><code>16</code><name>running</name>"
                             f"</instanceState></item>" for i in ids)
                   + "</instancesSet></item>" for n, ids in enumerate(reservations))
    return f"<DescribeInstancesResponse {EC2}><reservationSet>{held}</reservationSet></DescribeInstancesResponse>"\
        .encode()


def instances_listed(lag: World, params: dict[str, str], body: bytes) -> list[list[str]]:
    """Each reservation's instance ids, as boto3 reads the rewritten answer."""
    parsed = answer("ec2", "DescribeInstances", lag.rewritten("ec2", "DescribeInstances", params, body))
    return [[i["InstanceId"] for i in r["Instances"]] for r in parsed["Reservations"]]


def test_an_instance_just_launched_is_left_out_of_listings_for_the_scan_lag_but_shown_by_id():
    clock = FakeClock()
    lag = world(clock, lag=1, scan_lag=4)
    for launched in ("i-0abc", "i-0def"):
        lag.rewritten("ec2", "RunInstances", {}, f"<R {EC2}><instancesSet><item><instanceId>{launched}</instanceId>"
                                                 f"</item></instancesSet></R>".encode())
    body = instance_listing(["i-0001"], ["i-0abc"], ["i-0a5e", "i-0def"])
    scan = {"Filter.1.Name": "tag-key", "Filter.1.Value.1": "infra:name"}
    # What RunInstances launched is left out, and a reservation holding nothing else with it; an instance an
    # ASG launched (the layer never saw its launch) is listed at once.
    assert instances_listed(lag, scan, body) == [["i-0001"], ["i-0a5e"]]
    assert instances_listed(lag, {}, body) == [["i-0001"], ["i-0a5e"]]  # every instance, unfiltered: a listing
    clock.now = 1
    assert instances_listed(lag, {"InstanceId.1": "i-0abc"}, instance_listing(["i-0abc"])) == [["i-0abc"]]  # by id
    clock.now = 4
    assert instances_listed(lag, scan, body) == [["i-0001"], ["i-0abc"], ["i-0a5e", "i-0def"]]
