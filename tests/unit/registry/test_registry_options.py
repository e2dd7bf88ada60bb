"""Option values click accepts but the registry cannot use are refused first, before etcd is asked anything."""

import json

import pytest

from infra.cli import main
from infra.errors import RegistryError
from infra.registry.options import MAX_SECONDS, check_seconds, check_ttl, parse_wait

UNREACHABLE = "http://127.0.0.1:1"  # a check that ran after connecting would say "cannot reach etcd"
# services:watch takes --once here: an agent waits out an unreachable etcd instead of failing.
NODES = {
    "__base__": {"instance_type": "t3.micro", "source_ami": "ami-0123abcd",
                 "run_list": ["recipe[seatgeek::base-server]"]},
    "bee": {"run_list": ["recipe[seatgeek-service::api-workers]"]},
    "www": {"run_list": ["recipe[seatgeek::customer-web]"], "depends_on": ["api-workers"]},
}


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), -1.0, 1e300, MAX_SECONDS + 1.0])
def test_seconds_must_be_finite_and_between_zero_and_a_year(value):
    with pytest.raises(RegistryError, match=r"^--grace \S+ is out of range: give a number of seconds from 0 to "
                                            rf"{MAX_SECONDS} \(one year\)$"):
        check_seconds("--grace", value)


@pytest.mark.parametrize("value", [0.0, 2.5, float(MAX_SECONDS)])
def test_seconds_in_range_pass(value):
    assert check_seconds("--debounce", value) == value


@pytest.mark.parametrize("ttl", [0, -5, MAX_SECONDS + 1, 99999999999999999999])
def test_a_ttl_must_fit_a_year_so_etcd_never_sees_one_it_cannot_parse(ttl):
    with pytest.raises(RegistryError, match=rf"^--ttl {ttl} is out of range: give 1 to {MAX_SECONDS} seconds"):
        check_ttl(ttl)


@pytest.mark.parametrize("ttl", [None, 1, MAX_SECONDS])
def test_ttls_in_range_pass(ttl):
    assert check_ttl(ttl) == ttl


WATCH = ["services:watch", "www", "--node", "n1", "--exec", "true", "--once"]


@pytest.mark.parametrize("args, message", [
    (["services:decommission", "bee", "--node", "n1", "--grace", "inf"], "--grace inf is out of range"),
    (["services:decommission", "bee", "--node", "n1", "--grace", "nan"], "--grace nan is out of range"),
    (["services:decommission", "bee", "--node", "n1", "--grace", "1e400"], "--grace inf is out of range"),
    ([*WATCH, "--debounce", "inf"], "--debounce inf is out of range"),
    ([*WATCH, "--retry", "nan"], "--retry nan is out of range"),
    ([*WATCH, "--retry", "-1"], "--retry -1 is out of range"),
    ([*WATCH, "--ttl", "99999999999999999999", "--address", "10.0.0.1"],
     "--ttl 99999999999999999999 is out of range: give 1 to 31536000 seconds"),
    (["services:notify", "bee", "--node", "n1", "--address", "10.0.0.1", "--ttl", "99999999999999999999"],
     "--ttl 99999999999999999999 is out of range: give 1 to 31536000 seconds"),
    (["services:notify", "bee", "--node", "n1", "--address", "10.0.0.1", "--ttl", "0"], "--ttl 0 is out of range"),
    (["services:list", ""], "service name '' can't be used as a registry key"),
    (["services:notify", "bee", "--node", "n1", "--address", "10.0.0.1", "--check", "web=true"],
     "--check 'web=true': group 'bee' runs no service 'web' (it runs api-workers)"),
    (["services:notify", "bee", "--node", "n1", "--address", "10.0.0.1", "--check", "true", "--rise", "0"],
     "--rise 0 is out of range"),
    (["services:watch", "bee", "--node", "n1", "--address", "10.0.0.1", "--check", "true", "--check-interval",
      "inf"], "--check-interval inf is out of range"),
    (["services:watch", "bee", "--node", "n1", "--check", "http://127.0.0.1:8080/status"],
     "--check keeps this node registered, so it needs --address"),
    (["services:render", "haproxy.cfg.j2", "--out", "x.cfg", "--wait", "5:1"], "--wait '5:1': MAX (1) is shorter"),
    (["services:render", "haproxy.cfg.j2", "--out", "x.cfg", "--check-cmd", "haproxy -c -f x.cfg"],
     "--check-cmd 'haproxy -c -f x.cfg' must name the candidate file as {file}"),
])
def test_the_commands_refuse_bad_values_in_one_line_before_reaching_etcd(args, message, tmp_path, capsys):
    nodes = tmp_path / "nodes.json"
    nodes.write_text(json.dumps(NODES))
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(nodes), *args, "--etcd", UNREACHABLE])
    assert exit_.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_wait_is_min_and_max_seconds_as_in_consul_template():
    assert parse_wait("0.5:5") == (0.5, 5.0)
    assert parse_wait("2") == (2.0, 20.0)  # MAX defaults to ten times MIN, as --debounce
    assert parse_wait("1s:3s") == (1.0, 3.0)
    for bad, message in (("x", "is not MIN[:MAX] in seconds"), ("1:inf", "--wait inf is out of range"),
                         ("-1", "--wait -1 is out of range")):
        with pytest.raises(RegistryError, match=message.replace("[", r"\[").replace("]", r"\]")):
            parse_wait(bad)
