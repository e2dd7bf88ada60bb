import sys

import pytest

from infra.errors import RegistryError
from infra.registry.entry import Address, Entry, State
from infra.registry.reconfigure import Reconfigure
from infra.registry.registry import Snapshot
from infra.registry.render import find_template, parse_variables, render, render_template, template_context

SNAPSHOT = Snapshot([
    Entry("api", "n2", "bee", Address.parse("10.0.0.2:8080")),
    Entry("api", "n1", "bee", Address.parse("10.0.0.1")),
    Entry("api", "n3", "bee", Address.parse("10.0.0.3:8080"), State.leaving),
    Entry("cron", "n4", "cron", Address.parse("10.0.0.4:9000")),
], revision=10)


def test_the_context_offers_up_nodes_per_service_sorted_and_every_entry():
    context = template_context(SNAPSHOT, variables={"port": "81"})
    assert [w["node"] for w in context["services"]["api"]] == ["n1", "n2"]
    assert [e["state"] for e in context["entries"] if e["service"] == "api"] == ["up", "up", "leaving"]
    assert context["vars"] == {"port": "81"}
    only = template_context(SNAPSHOT, services=["api", "web"])
    assert list(only["services"]) == ["api", "web"] and only["services"]["web"] == []


def test_the_shipped_haproxy_template_routes_each_service_to_its_up_nodes():
    text = render_template(find_template("haproxy.cfg.j2"),
                           template_context(SNAPSHOT, variables={"domain": "svc.internal"}))
    assert "bind 127.0.0.1:8500" in text
    assert "acl host_api hdr(host),field(1,:) -i api api.svc.internal" in text
    assert "use_backend cron if host_cron" in text
    backend = text[text.index("\nbackend api"):text.index("\nbackend cron")]
    assert "    server n1 10.0.0.1:80 check\n    server n2 10.0.0.2:8080 check\n" in backend
    assert "n3" not in text  # leaving


def test_a_service_with_no_node_renders_a_backend_that_answers_503():
    text = render_template(find_template("haproxy.cfg.j2"), template_context(SNAPSHOT, services=["web"]))
    assert "backend web" in text and "no node runs web now" in text


def test_render_writes_and_reloads_only_on_change(tmp_path):
    out, marker = tmp_path / "haproxy.cfg", tmp_path / "reloaded"
    reload = f"{sys.executable} -c \"open({str(marker)!r}, 'a').write('x')\""
    assert render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd=reload)).changed
    assert not render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd=reload)).changed
    assert marker.read_text() == "x"


def test_a_failed_reload_of_a_new_file_leaves_no_file(tmp_path):
    out = tmp_path / "haproxy.cfg"
    with pytest.raises(RegistryError, match="exited 1"):
        render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd="false"))
    assert not out.exists()


def test_template_errors_point_at_the_template(tmp_path):
    template = tmp_path / "bad.j2"
    template.write_text("ok\n{% for x in %}\n")
    with pytest.raises(RegistryError, match="bad.j2:2"):
        render_template(template, {})
    template.write_text("{{ vars.missing }}")
    with pytest.raises(RegistryError, match="missing"):
        render_template(template, {"vars": {}})
    with pytest.raises(RegistryError, match="not found"):
        find_template(tmp_path / "nope.j2")


def test_variables_are_name_value_pairs():
    assert parse_variables(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(RegistryError, match="not NAME=VALUE"):
        parse_variables(["novalue"])


def test_a_missing_reload_command_writes_nothing_so_the_next_render_still_reloads(tmp_path):
    out = tmp_path / "haproxy.cfg"
    with pytest.raises(RegistryError, match="'/no/such' not found on PATH"):
        render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd="/no/such reload"))
    assert not out.exists()
    out.write_text("old\n")
    with pytest.raises(RegistryError, match="not found on PATH"):
        render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd="/no/such reload"))
    assert out.read_text() == "old\n"
    assert render(SNAPSHOT, "haproxy.cfg.j2", out, Reconfigure(exec_cmd="true")).ran == ["ran true"]  # not lost


def test_a_template_that_is_not_utf8_is_a_one_line_error_naming_the_file(tmp_path):
    latin1 = tmp_path / "latin1.j2"
    latin1.write_bytes("café {{ vars.x }}\n".encode("latin-1"))
    with pytest.raises(RegistryError, match=rf"^{latin1}: is not UTF-8 text \(byte 0xe9 at offset 3\)"):
        render_template(latin1, {"vars": {"x": 1}})
    main = tmp_path / "main.j2"
    main.write_text("{% include 'latin1.j2' %}")
    with pytest.raises(RegistryError, match=rf"^{latin1}: is not UTF-8 text"):
        render_template(main, {"vars": {"x": 1}})
