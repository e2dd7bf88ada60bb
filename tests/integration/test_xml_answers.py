"""infra's clients read AWS's XML answers with compiled readers (infra/aws/xml_answers.py): here the
answers of every kind of describe infra makes, and the errors, as moto gives them. The suite's
autouse watch (tests/support/answer_watch.py) reads each answer with botocore's parser too and fails
the test on any difference; these tests check what a reader of the answers sees."""

from datetime import datetime

import botocore.exceptions
import pytest
from botocore.parsers import EC2QueryParser

from infra.aws.session import AwsClients
from infra.aws.xml_answers import Ec2Answers, QueryAnswers


@pytest.fixture
def clients(aws):
    return AwsClients(region="us-east-1", endpoint_url=aws)


def test_clients_read_with_the_compiled_readers(clients):
    factory = clients.session()._session.get_component("response_parser_factory")  # noqa: SLF001
    assert isinstance(factory.create_parser("ec2"), Ec2Answers)
    assert isinstance(factory.create_parser("query"), QueryAnswers)


def test_botocore_s_own_parsers_on_request(aws, monkeypatch):
    monkeypatch.setenv("INFRA_AWS_PARSER", "botocore")
    clients = AwsClients(region="us-east-1", endpoint_url=aws)
    factory = clients.session()._session.get_component("response_parser_factory")  # noqa: SLF001
    assert type(factory.create_parser("ec2")) is EC2QueryParser
    assert clients.client("ec2").describe_security_groups(GroupNames=["bee"])["SecurityGroups"][0]["GroupName"] == "bee"


def test_fleet_answers_read_whole(clients, target_group):
    ec2, autoscaling, elbv2 = clients.client("ec2"), clients.client("autoscaling"), clients.client("elbv2")
    image = ec2.describe_images(Owners=["amazon", "self"])["Images"][0]["ImageId"]
    template = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={
            "ImageId": image, "InstanceType": "t3.micro", "UserData": "ZWNobyBoaQ==",
            "BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeSize": 20}}],
            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "web"}]}]},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "infra:managed", "Value": "true"}]}])
    template_id = template["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=template_id, SourceVersion="1",
                                       LaunchTemplateData={"InstanceType": "t3.small"})
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-1", MinSize=1, MaxSize=2, DesiredCapacity=1, AvailabilityZones=["us-east-1a"],
        LaunchTemplate={"LaunchTemplateId": template_id, "Version": "$Latest"}, TargetGroupARNs=[target_group],
        Tags=[{"Key": "group", "Value": "web", "PropagateAtLaunch": True}])
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": "one-off"}]}])

    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template_id)["LaunchTemplateVersions"]
    assert sorted(v["LaunchTemplateData"]["InstanceType"] for v in versions) == ["t3.micro", "t3.small"]
    first = next(v for v in versions if v["VersionNumber"] == 1)
    assert first["LaunchTemplateData"]["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"] == 20
    assert isinstance(first["CreateTime"], datetime) and first["CreateTime"].tzinfo is not None
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["web-1"])["AutoScalingGroups"][0]
    assert (group["MinSize"], group["MaxSize"], group["TargetGroupARNs"]) == (1, 2, [target_group])
    assert {"Key": "group", "Value": "web", "PropagateAtLaunch": True, "ResourceId": "web-1",
            "ResourceType": "auto-scaling-group"} in group["Tags"]
    assert len(group["Instances"]) == 1 and group["Instances"][0]["HealthStatus"] == "Healthy"
    reservations = ec2.describe_instances(InstanceIds=[instance["Instances"][0]["InstanceId"]])["Reservations"]
    assert reservations[0]["Instances"][0]["Tags"] == [{"Key": "Name", "Value": "one-off"}]
    health = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    assert [h["Target"]["Id"] for h in health] == [group["Instances"][0]["InstanceId"]]
    autoscaling.put_scaling_policy(AutoScalingGroupName="web-1", PolicyName="cpu", PolicyType="TargetTrackingScaling",
                                   TargetTrackingConfiguration={"TargetValue": 50.0, "PredefinedMetricSpecification": {
                                       "PredefinedMetricType": "ASGAverageCPUUtilization"}})
    policy = autoscaling.describe_policies(AutoScalingGroupName="web-1")["ScalingPolicies"][0]
    assert policy["TargetTrackingConfiguration"]["TargetValue"] == 50.0
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert "us-east-1a" in {z["ZoneName"] for z in zones}
    assert ec2.describe_security_groups(GroupNames=["bee"])["SecurityGroups"][0]["GroupName"] == "bee"


def test_error_answers_read_as_botocore_reads_them(clients):
    with pytest.raises(botocore.exceptions.ClientError) as ec2_error:
        clients.client("ec2").describe_launch_template_versions(LaunchTemplateName="nothing")
    assert ec2_error.value.response["Error"]["Code"].startswith("InvalidLaunchTemplate")
    with pytest.raises(botocore.exceptions.ClientError) as scaling_error:
        clients.client("autoscaling").delete_auto_scaling_group(AutoScalingGroupName="nothing")
    assert scaling_error.value.response["Error"]["Code"] == "ValidationError"
