"""Prices (infra/config/pricing.py): the table infra ships, the ops repository's ec2-prices.json over it,
located errors, and never a guess. No server."""

from __future__ import annotations

import json

import pytest

from infra.config.pricing import HOURS_PER_MONTH, OVERRIDE_FILE, dollars, load_prices, size_rank
from infra.errors import ConfigError


def test_the_shipped_table_says_its_date_and_source_and_prices_the_example_types(tmp_path):
    prices = load_prices(tmp_path)
    [shipped] = prices.sources
    assert shipped.file == "infra's table" and shipped.date == "2026-11-30"
    assert "On-Demand" in shipped.source and "US East (N. Virginia)" in shipped.source and "Linux" in shipped.source
    assert prices.price("us-east-1", "m1.large") == 0.175 and prices.price("us-east-1", "m3.xlarge") == 0.266
    assert prices.monthly("us-east-1", "m1.large", 2) == round(2 * 0.175 * HOURS_PER_MONTH, 2) == 255.5


def test_a_type_or_region_without_a_price_has_none_and_nothing_is_guessed(tmp_path):
    prices = load_prices(tmp_path)
    assert prices.price("us-east-1", "m9.huge") is None
    assert prices.price("eu-west-1", "m1.large") is None  # the shipped table is us-east-1's only
    assert prices.monthly("eu-west-1", "m1.large", 3) is None
    assert prices.monthly("eu-west-1", "m1.large", 0) == 0.0  # no nodes cost nothing, priced or not


def test_the_ops_repository_overrides_and_extends_the_table_price_by_price(tmp_path):
    (tmp_path / OVERRIDE_FILE).write_text(json.dumps({
        "date": "2026-12-01", "source": "our AWS bill", "currency": "USD",
        "hourly": {"us-east-1": {"m1.large": 0.15}, "eu-west-1": {"m5.large": 0.107}}}))
    prices = load_prices(tmp_path)
    assert prices.price("us-east-1", "m1.large") == 0.15  # overridden
    assert prices.price("us-east-1", "m3.large") == 0.133  # still infra's
    assert prices.price("eu-west-1", "m5.large") == 0.107  # added
    assert [s.file for s in prices.sources] == [OVERRIDE_FILE, "infra's table"]
    assert prices.described().startswith("ec2-prices.json (2026-12-01: our AWS bill); infra's table (2026-11-30: ")


@pytest.mark.parametrize("text, error", [
    ('{"date": "2026-12-01", "source": "x",\n "hourly": {"us-east-1": {\n  "m5.large": -1}}}',
     "ec2-prices.json:3:3: hourly.us-east-1.m5.large: should be greater than 0, got -1"),
    ('{"date": "2026-12-01", "source": "x",\n "hourly": {"us-east-1": {\n  "m5.large": "0.1"}}}',
     "ec2-prices.json:3:3: hourly.us-east-1.m5.large: should be a valid number, got '0.1'"),
    ('{"date": "2026-12-01", "source": "x",\n "hourly": {\n  "virginia": {}}}',
     "ec2-prices.json:3:3: hourly.virginia: 'virginia' is not an AWS region name"),
    ('{"date": "2026-12-01", "source": "x",\n "hourly": {"us-east-1": {\n  "m5large": 0.1}}}',
     "ec2-prices.json:3:3: hourly.us-east-1.m5large: 'm5large' is not an EC2 instance type"),
    ('{"date": "2026-12-01", "source": "x", "hourly": {},\n "currency": "EUR"}',
     "ec2-prices.json:2:2: currency: should be 'USD', got 'EUR'"),
    ('{"date": "2026-12-01", "source": "x", "hourly": {},\n "region": "us-east-1"}',
     "ec2-prices.json:2:2: region: unknown key; a price table has date, source, note, currency, hourly"),
    ('{"date": "yesterday", "source": "x", "hourly": {}}',
     "ec2-prices.json:1:2: date: 'yesterday' is not a date like 2026-11-30"),
    ('{"source": "x", "hourly": {}}', "ec2-prices.json: date: missing"),
    ('{"date": "2026-12-01", "source": "x", "hourly": {},}', "ec2-prices.json:1:52: invalid JSON"),
    ('[]', "ec2-prices.json:1:1: the top level must be an object"),
])
def test_a_bad_override_is_one_located_error(tmp_path, text, error):
    (tmp_path / OVERRIDE_FILE).write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_prices(tmp_path)
    assert str(raised.value).startswith(error) and "\n" not in str(raised.value)


def test_sizes_order_within_a_family_and_neighbours_need_a_price(tmp_path):
    assert [s for s in sorted(["xlarge", "metal", "nano", "2xlarge", "large", "12xlarge", "medium"], key=size_rank)] \
        == ["nano", "medium", "large", "xlarge", "2xlarge", "12xlarge", "metal"]
    prices = load_prices(tmp_path)
    assert prices.neighbour("us-east-1", "m5.xlarge", -1) == "m5.large"
    assert prices.neighbour("us-east-1", "m5.large", -1) is None  # the smallest m5
    assert prices.neighbour("us-east-1", "c5.4xlarge", +1) == "c5.9xlarge"
    assert prices.neighbour("eu-west-1", "m5.xlarge", -1) is None  # no prices there
    assert prices.neighbour("us-east-1", "m5.weird", -1) is None


def test_dollars_show_cents_or_what_matters_below_a_cent():
    assert dollars(255.5) == "$255.50" and dollars(1234.567) == "$1,234.57" and dollars(0) == "$0.00"
    assert dollars(0.0104) == "$0.0104" and dollars(0.175) == "$0.175"
    assert dollars(-61.32, signed=True) == "-$61.32" and dollars(7.59, signed=True) == "+$7.59"
    assert dollars(None) == "no price"
