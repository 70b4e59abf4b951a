"""``flyray get projects`` and ``flyray create project``, and ``-o json|yaml`` on the
``get`` commands, against a real admin API served over HTTP."""

from __future__ import annotations

import json

import yaml

from tests.engine.cli.conftest import Flyray


def test_create_a_project_then_list_it(flyray: Flyray) -> None:
    created = flyray("create", "project", "ml-team", "--name", "ML team",
                     "--description", "Models [v2]")
    assert created.exit_code == 0, created.output
    assert created.output == ("project ml-team (ML team) with domains development, "
                              "staging, production\n")
    again = flyray("create", "project", "ml-team", "--name", "ML team", "--description",
                   "Models [v2]", "-o", "json")
    assert again.exit_code == 0, again.output  # the same project again: nothing changes
    assert json.loads(again.output)["id"] == "ml-team"
    other = flyray("create", "project", "ml-team", "--description", "something else")
    assert other.exit_code == 1
    assert "409" in other.output and "ml-team" in other.output, other.output

    table = flyray("get", "projects")
    assert table.exit_code == 0, table.output
    row = next(line for line in table.output.splitlines() if "ml-team" in line)
    assert "ML team" in row and "development, staging, production" in row
    assert "Models [v2]" in row  # brackets shown as they are, not read as markup
    as_json = json.loads(flyray("get", "projects", "-o", "json").output)
    as_yaml = yaml.safe_load(flyray("get", "projects", "-o", "yaml").output)
    assert as_json == as_yaml
    mine = next(p for p in as_json["projects"] if p["id"] == "ml-team")
    assert [d["id"] for d in mine["domains"]] == ["development", "staging", "production"]


def test_every_get_command_speaks_yaml(flyray: Flyray) -> None:
    for kind, key in (("workflows", "workflows"), ("tasks", "tasks"),
                      ("launchplans", "launch_plans"), ("executions", "executions")):
        result = flyray("get", kind, "-o", "yaml")
        assert result.exit_code == 0, (kind, result.output)
        assert yaml.safe_load(result.output)[key] == [], kind


def test_a_bad_project_id_is_refused_by_the_server(flyray: Flyray) -> None:
    refused = flyray("create", "project", "Not Valid")
    assert refused.exit_code == 1
    assert "failed with 400 INVALID_ARGUMENT" in refused.output, refused.output
    assert "a project is 1-63 lowercase letters" in refused.output
