"""A value shown cut short is the whole value's text cut: secrets masked, references unknown."""

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.reconciler.shown import UNKNOWN, show_value

WORDS = st.sampled_from(["web", "password", "ssl", "key", "token", "region", "${ami.web.image_id}", "a=b",
                         "password=hunter2", "http://admin:pw@host/x", "x\"${ami.web.image_id}", "é", "$", "{"])
TEXT = WORDS | st.text(max_size=30) | st.lists(WORDS, max_size=4).map("".join)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT
KEYS = WORDS | st.text(max_size=10) | st.integers()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=5),
                      max_leaves=30)
PATHS = st.sampled_from(["", "tags", "document.ssl", "document.ssl.key", "users[0].password", "api", "user_data"])


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


@settings(max_examples=500, deadline=None)
@given(VALUES, PATHS, st.sampled_from([20, 60, 100]))
def test_a_value_cut_short_reads_as_the_whole_value_cut(value, path, limit):
    assert show_value(value, path, limit) == cut(show_value(value, path, None), limit)


def test_a_long_document_is_cut_and_its_secrets_stay_masked():
    document = {"ssl": {"key": "x" * 50}, "db_password": "hunter2", "url": "http://admin:pw@host/", "n": 1.5,
                "image": "${ami.web.image_id}", "rest": ["y" * 200]}
    shown = show_value(document, "document")
    assert shown.startswith('{"ssl": {"key": "(sensitive)"}, "db_password": "(sensitive)", "url": "http://admin:(sen')
    assert len(shown) == 100 and shown.endswith("...")
    assert show_value(document, "document", None).count(UNKNOWN) == 1
