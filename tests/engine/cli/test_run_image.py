"""``flyray run --image [NAME=]IMAGE``: the image of tasks that give none (and named ones
for ``{{.image.NAME.fullname}}``), an image name or an imagespec.yaml; in local runs the
tasks run in its Ray runtime environment, merged with the run's own variables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import ray

from engine import ImageSpec, task
from engine.cli.run_options import parse_images, settle
from engine.core.image_spec import use_images

ROOT = Path(__file__).resolve().parents[3]
IMAGE_WFS = str(ROOT / "tests" / "fixtures" / "image_wfs.py")


def test_image_values_name_the_default_or_a_named_image(tmp_path: Path) -> None:
    spec_file = tmp_path / "imagespec.yaml"
    spec_file.write_text("name: mine\npackages: [numpy]\nenv: {A: '1'}\n")
    images = parse_images(["ghcr.io/me/img:1", f"gpu={spec_file}", "cpu=reg:5000/x=y:2"])
    assert images == {"default": "ghcr.io/me/img:1", "gpu": ImageSpec(
        name="mine", packages=["numpy"], env={"A": "1"}), "cpu": "reg:5000/x=y:2"}
    assert parse_images(["a:1", "b:2"]) == {"default": "b:2"}  # the later one wins
    assert settle({"image": ("a:1",)}, {"image": ("x=b:2",)}).images == {"default": "a:1",
                                                                         "x": "b:2"}
    spec_file.write_text("pakages: [numpy]\n")
    with pytest.raises(click.BadParameter, match=r"unknown ImageSpec field\(s\) \['pakages'\]"):
        parse_images([str(spec_file)])
    with pytest.raises(click.BadParameter, match="no ImageSpec file"):
        parse_images([str(tmp_path / "none.yaml")])


def test_tasks_without_an_image_take_the_default_and_templates_their_named_one() -> None:
    @task
    def plain() -> int:
        return 1

    @task(container_image="{{.image.gpu.fullname}}")
    def templated() -> int:
        return 1

    @task(container_image="ghcr.io/me/own:1")
    def own() -> int:
        return 1

    spec = ImageSpec(name="gpu", env={"A": "1"})
    assert plain.spec().metadata.container_image is None
    with use_images({"default": "ghcr.io/me/default:1", "gpu": spec}):
        assert plain.spec().metadata.container_image == "ghcr.io/me/default:1"
        assert templated.spec().metadata.image_spec == spec.record()
        assert own.spec().metadata.container_image == "ghcr.io/me/own:1"
        versioned = plain.spec().id.version
    # Outside, the task's own spec again; a template without its image stays as given.
    assert plain.spec().metadata.container_image is None
    assert plain.spec().id.version != versioned
    assert templated.spec().metadata.container_image == "{{.image.gpu.fullname}}"


@pytest.mark.timeout(180)
@pytest.mark.usefixtures("ray_cluster")
def test_a_local_run_runs_tasks_in_the_default_image_merged_with_its_envvars(
        tmp_path: Path) -> None:
    """``flyray`` in a process of its own, joining the session's cluster: the task sees the
    image's variables and the run's ``--envvars``; where both set one, the image's wins."""
    spec_file = tmp_path / "imagespec.yaml"
    spec_file.write_text("name: run-image\nenv: {FLYRAY_IMAGE_VAR: from-image}\n")
    env = {**os.environ, "FLYRAY_RAY_ADDRESS": ray.get_runtime_context().gcs_address,
           "FLYRAY_LOG_TO_DRIVER": "false"}
    flyray = [sys.executable, "-c", "from engine.cli.main import main; main()", "run"]
    for var, expected in (("FLYRAY_IMAGE_VAR", "from-image"), ("FLYRAY_RUN_VAR", "from-run")):
        ran = subprocess.run([*flyray, "--image", str(spec_file), "-e", "FLYRAY_RUN_VAR=from-run",
                              "-e", "FLYRAY_IMAGE_VAR=from-run", IMAGE_WFS, "plain_wf", "--var",
                              var], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=150, check=False)
        assert (ran.returncode, ran.stdout) == (0, f"{expected}\n"), ran.stderr
