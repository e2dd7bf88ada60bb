"""User text in Packer templates: written so packer evaluates none of it, and read back as written."""

import pytest

from infra.reconciler.graph import ami_tags
from infra.rendering import packer_literal, packer_text


@pytest.mark.parametrize("text", ["{{ template_dir }}", "{{ oops", "{{{", "}}{{", '{{"{{"}}', "plain", "a{b}"])
def test_written_text_has_no_packer_expression_and_reads_back_as_written(text):
    written = packer_literal(text)
    assert "{{" not in written
    assert packer_text(written) == text


def test_the_wanted_ami_tags_are_the_text_of_nodes_json_and_filled_in_values_are_left_out():
    template = {"builders": [{"tags": {"note": packer_literal("{{ x }}"), "BuiltAt": "{{timestamp}}", "team": "ops",
                                       "infra:source_hash": "{{user `source_hash`}}"}}]}
    assert ami_tags(template) == {"note": "{{ x }}", "team": "ops"}
