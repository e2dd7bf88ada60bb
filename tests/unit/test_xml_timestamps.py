"""The compiled XML readers' timestamps (infra/aws/xml_answers.py): what botocore's parser makes of
the same text, zone and all, for AWS's own form and every other form it might meet."""

from datetime import UTC, datetime

from botocore.utils import parse_timestamp
from hypothesis import given
from hypothesis import strategies as st

from infra.aws.xml_answers import utc_reader

read = utc_reader(parse_timestamp)
moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1))


def same(text: str) -> None:
    found, expected = read(text), parse_timestamp(text)
    assert found == expected
    assert repr(found) == repr(expected)  # the same zone object as botocore's (tzlocal or tzutc)


@given(moments, st.integers(min_value=0, max_value=6))
def test_aws_form_reads_as_botocore_reads_it(moment, digits):
    fraction = f".{moment.microsecond:06d}"[:digits + 1] if digits else ""
    same(moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z")


@given(moments)
def test_other_forms_are_left_to_botocore(moment):
    for text in (moment.strftime("%Y-%m-%dT%H:%M:%S+00:00"), moment.strftime("%Y-%m-%dT%H:%M:%S+02:00"),
                 moment.strftime("%a, %d %b %Y %H:%M:%S GMT"), str(int(moment.replace(tzinfo=UTC).timestamp())),
                 moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"):
        same(text)
