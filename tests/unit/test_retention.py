"""Retention is a pure choice: keep each group's newest few, hold what is in use, remove the rest."""

import pytest

from infra.reconciler.retention import Image, choose, newest_by_group, newest_first


def image(id: str, group: str = "web", created: str = "2024-01-01T00:00:00.000Z", name: str = "") -> Image:
    return Image(id=id, group=group, created=created, name=name or f"{group}-{id}", snapshots=(f"snap-{id}",))


def day(n: int) -> str:
    return f"2024-01-{n:02d}T00:00:00.000Z"


WEB = [image(f"ami-{n}", created=day(n)) for n in (3, 1, 4, 2, 5)]  # shuffled on purpose


def ids(images) -> list[str]:
    return [i.id for i in images]


def test_keeps_the_newest_n_and_removes_the_older_ones_oldest_last():
    decision = choose(WEB, 2, in_use={})
    assert ids(decision.kept) == ["ami-5", "ami-4"]
    assert ids(decision.removed) == ["ami-3", "ami-2", "ami-1"]
    assert decision.held == []


def test_an_older_image_in_use_is_held_with_who_uses_it_and_does_not_count_towards_keep():
    decision = choose(WEB, 2, in_use={"ami-1": ["launch template web (version 3)"], "ami-5": ["instance i-1"]})
    assert ids(decision.kept) == ["ami-5", "ami-4"]
    assert [(h.image.id, h.users) for h in decision.held] == [("ami-1", ("launch template web (version 3)",))]
    assert ids(decision.removed) == ["ami-3", "ami-2"]


def test_keep_zero_removes_everything_not_in_use():
    decision = choose(WEB, 0, in_use={"ami-2": ["autoscaling group web-1"]})
    assert decision.kept == []
    assert ids(decision.removed) == ["ami-5", "ami-4", "ami-3", "ami-1"]
    assert ids(h.image for h in decision.held) == ["ami-2"]


def test_keeping_more_than_there_are_removes_nothing():
    assert choose(WEB, 10, in_use={}).removed == []


def test_each_group_is_counted_on_its_own_and_can_keep_its_own_number():
    images = [*WEB, image("ami-a", "api", day(1)), image("ami-b", "api", day(9))]
    decision = choose(images, {"web": 4, "api": 1}, in_use={})
    assert ids(decision.kept) == ["ami-b", "ami-5", "ami-4", "ami-3", "ami-2"]
    assert ids(decision.removed) == ["ami-a", "ami-1"]


def test_images_of_the_same_second_are_ordered_by_name_which_holds_the_build_time():
    same = [image("ami-x", created=day(1), name="web-20240101-000001"),
            image("ami-y", created=day(1), name="web-20240101-000002")]
    assert ids(newest_first(same)) == ["ami-y", "ami-x"]
    assert newest_by_group(same)["web"].id == "ami-y"


def test_newest_by_group_picks_one_per_group():
    images = [*WEB, image("ami-a", "api", day(7))]
    assert {g: i.id for g, i in newest_by_group(images).items()} == {"web": "ami-5", "api": "ami-a"}


def test_nothing_to_choose_from_is_an_empty_decision():
    decision = choose([], 3, in_use={})
    assert (decision.kept, decision.held, decision.removed) == ([], [], [])


def test_a_negative_count_is_refused():
    with pytest.raises(ValueError):
        choose(WEB, -1, in_use={})
