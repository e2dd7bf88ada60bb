"""The AMIs builds just made are described together: the builds that finish while a describe is in
flight go in one next describe; a refused one (an AMI not visible yet) makes each ask alone. On a
stub EC2 client that holds each describe until the test lets it answer."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import pytest

from infra.providers.aws.new_images import NewImages


class HeldEc2:
    """DescribeImages that waits for `release` before answering; `hidden` ids are not visible yet."""

    def __init__(self, hidden: set[str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.hidden = hidden or set()
        self.release = threading.Event()
        self.arrived = threading.Semaphore(0)

    def describe_images(self, ImageIds: list[str]) -> dict:
        self.calls.append(list(ImageIds))
        self.arrived.release()
        self.release.wait(5)
        missing = [i for i in ImageIds if i in self.hidden]
        if missing:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "InvalidAMIID.NotFound",
                           "Message": f"The image id '[{missing[0]}]' does not exist"}}, "DescribeImages")
        return {"Images": [{"ImageId": i, "Name": f"name-{i}"} for i in ImageIds]}


def ask_in_threads(images: NewImages, ec2: HeldEc2, ids: list[str]) -> tuple[dict[str, Any], list[threading.Thread]]:
    """The first id asks and its describe is held; the others ask meanwhile, then all are answered."""
    answers: dict[str, Any] = {}

    def ask(image_id: str) -> None:
        try:
            answers[image_id] = images.described(ec2, "us-east-1", image_id)
        except botocore.exceptions.ClientError as exc:
            answers[image_id] = exc.response["Error"]["Code"]

    threads = [threading.Thread(target=ask, args=(i,)) for i in ids]
    threads[0].start()
    assert ec2.arrived.acquire(timeout=5)  # the first describe is in flight
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 5
    while images.waiting("us-east-1") < len(ids) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # until the others wait for it
    ec2.release.set()
    for thread in threads:
        thread.join(5)
    return answers, threads


def test_builds_finishing_during_a_describe_go_together_in_the_next() -> None:
    ec2 = HeldEc2()
    answers, _ = ask_in_threads(NewImages(), ec2, ["ami-1", "ami-2", "ami-3", "ami-4"])
    assert ec2.calls[0] == ["ami-1"]
    assert sorted(ec2.calls[1]) == ["ami-2", "ami-3", "ami-4"] and len(ec2.calls) == 2
    assert answers == {i: [{"ImageId": i, "Name": f"name-{i}"}] for i in ("ami-1", "ami-2", "ami-3", "ami-4")}


def test_a_describe_refused_for_one_makes_each_ask_alone_with_its_own_answer() -> None:
    ec2 = HeldEc2(hidden={"ami-3"})
    answers, _ = ask_in_threads(NewImages(), ec2, ["ami-1", "ami-2", "ami-3"])
    assert sorted(map(sorted, ec2.calls[2:])) == [["ami-2"], ["ami-3"]]  # after the refused ["ami-2", "ami-3"]
    assert answers == {"ami-1": [{"ImageId": "ami-1", "Name": "name-ami-1"}],
                       "ami-2": [{"ImageId": "ami-2", "Name": "name-ami-2"}], "ami-3": "InvalidAMIID.NotFound"}


def test_one_alone_asks_alone_and_hears_its_own_error() -> None:
    ec2 = HeldEc2(hidden={"ami-9"})
    ec2.release.set()
    with pytest.raises(botocore.exceptions.ClientError, match="InvalidAMIID.NotFound"):
        NewImages().described(ec2, "us-east-1", "ami-9")
    assert NewImages().described(ec2, "us-east-1", "ami-1") == [{"ImageId": "ami-1", "Name": "name-ami-1"}]
    assert ec2.calls == [["ami-9"], ["ami-1"]]
