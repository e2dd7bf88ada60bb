"""Which registry entries a rendered config can take (screen.py), and the names it gives servers."""

import pytest

from infra.errors import RegistryError
from infra.registry.entry import Address, Entry, State
from infra.registry.registry import Snapshot
from infra.registry.render import template_context
from infra.registry.screen import screen, server_name


def test_server_names_are_unique_by_construction():
    assert server_name("web-1") == "web-1" and server_name("i-0abc:8080.x_y") == "i-0abc:8080.x_y"
    assert server_name("deploy@web-1") != server_name("deploy_web-1") == "deploy_web-1"
    assert server_name("deploy@web-1").startswith("deploy_web-1-")


def test_screen_leaves_out_bad_names_unresolvable_hosts_and_keeps_the_rest():
    entries = [Entry("api", "n1", "bee", Address.parse("10.0.0.1:80")),
               Entry("-x", "n2", "bee", Address.parse("10.0.0.2:80")),
               Entry("api", "n3", "bee", Address.parse("gone.internal:80")),
               Entry("api", "n4", "bee", Address.parse("web.internal:80")),
               Entry("api", "n5", "bee", Address("::", 80))]
    screened = screen(entries, resolve=lambda host: host == "web.internal")
    assert [e.node for e in screened.entries] == ["n1", "n4"]
    assert [str(item) for item in screened.left_out] == [
        "left out -x on node n2 at 10.0.0.2:80: the service name is not letters, digits, '_' and '-' starting with "
        "a letter or digit",
        "left out api on node n3 at gone.internal:80: the hostname gone.internal does not resolve here",
        "left out api on node n5 at [::]:80: an unspecified address (any interface), not one to send requests to"]
    assert [e.node for e in screen(entries, resolve=None).entries] == ["n1", "n3", "n4"]  # names unchecked


def test_the_template_context_offers_only_safe_entries_and_reports_the_others():
    snapshot = Snapshot([Entry("api", "deploy@n1", "bee", Address.parse("10.0.0.1")),
                         Entry("api", "deploy_n1", "bee", Address.parse("10.0.0.2")),
                         Entry("-x", "n2", "bee", Address.parse("10.0.0.3"), State.leaving)],
                        revision=3, unreadable=["/infra/services/api/n9", "/infra/services/cron/n8"])
    told: list[str] = []
    context = template_context(snapshot, services=["api", "-x"], left_out=told.append)
    assert [w["server"] for w in context["services"]["api"]] == [server_name("deploy@n1"), "deploy_n1"]
    assert [e["service"] for e in context["entries"]] == ["api", "api"]
    assert told == ["left out the unreadable registry key /infra/services/api/n9: re-run services:notify on that "
                    "node or delete the key",
                    "left out -x on node n2 at 10.0.0.3: the service name is not letters, digits, '_' and '-' "
                    "starting with a letter or digit"]


@pytest.mark.parametrize("text, why", [
    ("[:]", ": is not an IPv6 address"), ("[::]:80", ":: is an unspecified address"),
    ("0.0.0.0", "0.0.0.0 is an unspecified address"), ("[ff02::1]:80", "ff02::1 is a multicast address"),
    ("10.0.0.256:80", "10.0.0.256 is not an IPv4 address"), ("[1:2:3]:80", "1:2:3 is not an IPv6 address"),
])
def test_an_address_no_request_can_be_sent_to_is_refused_where_it_enters(text, why):
    with pytest.raises(RegistryError, match=why.replace("[", r"\[")):
        Address.parse(text)
    assert str(Address.parse("[fd00::5]:80")) == "[fd00::5]:80"
