"""``flyray run --remote --label --annotation --raw-output-prefix``, ``flyray get
executions --label``, and FlyteRemote's side of them, against an admin API that records
the drivers it would start (no Ray needed)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from engine import Annotations, Labels, RawOutputDataConfig
from engine.cli.main import cli
from engine.config import Settings
from engine.configuration import Config, DataConfig, PlatformConfig
from engine.remote import FlyteRemote
from tests.engine.cli.conftest import start_admin
from tests.engine.cli.test_register import DOMAIN, PACKAGE, PROJECT, api
from tests.serve.remote import RecordingLauncher

WORKFLOWS = str(PACKAGE / "workflows.py")


def test_run_remote_sends_labels_annotations_and_prefix_and_get_filters(
        tmp_path: Path) -> None:
    blobs = Settings(home=tmp_path / "server").blob_root_uri
    with start_admin(tmp_path, launcher=RecordingLauncher()) as server:
        runner = CliRunner()
        result = runner.invoke(cli, [
            "run", "--remote", "--name", "labelled", "--label", "team=ml", "--label",
            "example.com/run=nightly", "--annotation", "note=a = b, c",
            "--raw-output-prefix", f"{blobs}/raw-data", WORKFLOWS, "pipeline", "--n", "2"],
            env=server.env)
        assert result.exit_code == 0, result.output
        result = runner.invoke(cli, ["run", "--remote", "--name", "plain", "--label",
                                     "team=web", WORKFLOWS, "pipeline", "--n", "2"],
                               env=server.env)
        assert result.exit_code == 0, result.output
        spec = api(server, f"executions/{PROJECT}/{DOMAIN}/labelled")["spec"]
        assert spec["labels"] == {"team": "ml", "example.com/run": "nightly"}
        assert spec["annotations"] == {"note": "a = b, c"}
        assert spec["raw_output_data_config"] == {
            "output_location_prefix": f"{blobs}/raw-data"}

        listed = runner.invoke(cli, ["get", "executions", "--label", "team=ml"],
                               env=server.env)
        assert listed.exit_code == 0, listed.output
        assert "labelled" in listed.output and "plain" not in listed.output
        assert "team=ml" in listed.output and "labels" in listed.output
        as_json = runner.invoke(cli, ["get", "executions", "-o", "json", "--label",
                                      "team=web"], env=server.env)
        assert [e["id"]["name"] for e in json.loads(as_json.output)["executions"]] == [
            "plain"]

        # FlyteRemote: the same from Python, as flytekit's.
        remote = FlyteRemote(Config(PlatformConfig(server.endpoint), DataConfig(blobs)))
        execution = remote.fetch_execution(name="labelled")
        assert execution.spec.labels == Labels({"team": "ml", "example.com/run": "nightly"})
        assert execution.spec.annotations.values == {"note": "a = b, c"}
        assert execution.spec.raw_output_data_config == RawOutputDataConfig(
            f"{blobs}/raw-data")
        workflow = remote.fetch_workflow(name=execution.spec.workflow.name,
                                         version=execution.spec.workflow.version)
        again = remote.execute(workflow, {"n": 3}, execution_name="from-python",
                               labels=Labels({"team": "data"}),
                               annotations=Annotations({"why": "test"}),
                               raw_output_data_config=RawOutputDataConfig(
                                   output_location_prefix=f"{blobs}/py"))
        assert (again.spec.labels.values, again.spec.annotations.values) == (
            {"team": "data"}, {"why": "test"})
        assert [e.id.name for e in remote.recent_executions(labels={"team": "data"})] == [
            "from-python"]


def test_bad_labels_and_prefixes_are_refused_saying_why(tmp_path: Path) -> None:
    with start_admin(tmp_path, launcher=RecordingLauncher()) as server:
        runner = CliRunner()
        for args, expected in (
                (["--remote", "--label", "team"], "--label 'team' must be KEY=VALUE"),
                (["--remote", "--label", "team=two words"], "invalid value 'two words'"),
                (["--label", "team=ml"], "--label is for a remote execution"),
                (["--remote", "--raw-output-prefix", "raw"], "must be a URI")):
            refused = runner.invoke(cli, ["run", *args, WORKFLOWS, "pipeline", "--n", "1"],
                                    env=server.env)
            assert refused.exit_code == 2 and expected in refused.output, refused.output
        outside = runner.invoke(cli, ["run", "--remote", "--raw-output-prefix",
                                      "s3://elsewhere/raw", WORKFLOWS, "pipeline", "--n",
                                      "1"], env=server.env)
        assert outside.exit_code == 1
        assert "must lie inside the blob store" in outside.output, outside.output
