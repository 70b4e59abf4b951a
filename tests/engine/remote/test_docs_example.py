"""The complete example of docs/remote.md runs as written, against the real admin API
(its ``Config.for_sandbox()`` pointed at this session's server through the settings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.engine.remote.conftest import Admin

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.timeout(240)
def test_the_documented_example_runs(admin: Admin, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    page = (ROOT / "docs" / "remote.md").read_text()
    example = page.split("## A complete example", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.DOTALL)
    assert code is not None
    monkeypatch.setenv("FLYRAY_ADMIN_ENDPOINT", admin.endpoint)
    monkeypatch.setenv("FLYRAY_BLOB_ROOT", admin.config.data_config.blob_root)
    monkeypatch.delenv("FLYRAY_ADMIN_TOKEN", raising=False)
    monkeypatch.chdir(ROOT)
    exec(compile(code.group(1), "docs/remote.md", "exec"), {"__name__": "docs_example"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "SUCCEEDED"
    assert re.fullmatch(r"mean 4\d\.\d\d, std \d\.\d\d", printed[1]), printed[1]
    assert printed[2] == (f"{admin.endpoint}/console/projects/flytesnacks/domains/"
                          "development/executions/basics-docs-1")
    assert printed[3] == "n0 basics.generate_normal_df SUCCEEDED 1"
    assert printed[4] == "n1 basics.compute_stats SUCCEEDED 1"
    assert "count    500.0" in "\n".join(printed[5:])
