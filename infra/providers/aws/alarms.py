"""CloudWatch alarms a roll watches: that nodes.json names real ones, and which are in ALARM.

infra makes no alarms: they watch what the service does (its 5xx rate, its latency), and a roll
only reads their state. One DescribeAlarms call answers for every name (at most 100, which
nodes.json keeps to).
"""

from __future__ import annotations

from collections.abc import Iterable

from infra.aws.session import AwsClients, aws_errors

MAX_REASON = 120  # characters of an alarm's StateReason shown in a one-line error


def _alarms(clients: AwsClients, region: str, names: list[str]) -> list[dict]:
    with aws_errors("describe CloudWatch alarms"):
        answer = clients.client("cloudwatch", region).describe_alarms(AlarmNames=names, AlarmTypes=["MetricAlarm",
                                                                                                    "CompositeAlarm"])
    return [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]


def missing(clients: AwsClients, region: str, names: Iterable[str]) -> list[str]:
    """Of `names`, those with no alarm in `region`."""
    return looked_up(clients, region, names)[0]


def firing(clients: AwsClients, region: str, names: Iterable[str]) -> list[str]:
    """Those of `names` in ALARM, each with why: `web-5xx (Threshold Crossed: 3 datapoints ...)`."""
    return list(looked_up(clients, region, names)[1].values())


def looked_up(clients: AwsClients, region: str, names: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """In one call: those of `names` with no alarm in `region`, and those in ALARM with why, by name."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return [], {}
    found = _alarms(clients, region, wanted)
    said = {}
    for alarm in found:
        if alarm.get("StateValue") == "ALARM":
            reason = " ".join(str(alarm.get("StateReason") or "").split())
            reason = reason if len(reason) <= MAX_REASON else reason[:MAX_REASON - 3] + "..."
            said[alarm["AlarmName"]] = f"{alarm['AlarmName']} ({reason})" if reason else alarm["AlarmName"]
    names_found = {alarm["AlarmName"] for alarm in found}
    return [name for name in wanted if name not in names_found], said
