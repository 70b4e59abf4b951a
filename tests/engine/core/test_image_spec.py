"""``ImageSpec``: checked at definition, recorded in the task's spec in a stable form, and
run as the task's Ray runtime environment (nothing is installed from the network here)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from engine import ImageSpec, task
from engine.dag.run.executor import run
from engine.dag.run.image_env import runtime_env
from engine.dag.spec import TaskSpec
from engine.errors import ConfigError
from tests.fixtures import image_wfs

# --- definition ------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"packages": "numpy"}, "field 'packages': must be a list of strings"),
    ({"apt_packages": ["git", 1]}, "field 'apt_packages': must be a list of strings"),
    ({"python_version": "three"}, "field 'python_version': must be a version"),
    ({"env": {"A": 1}}, "field 'env': must be a dict of strings to strings"),
    ({"registry": "Not A Registry!"}, "field 'registry': must be a registry"),
    ({"name": ""}, "field 'name': must be a non-empty string"),
    ({"base_image": 3}, "field 'base_image': must be an image name, an ImageSpec"),
    ({"pip_index": ["x"]}, "field 'pip_index': must be a string or None"),
])
def test_bad_fields_are_refused_at_definition_naming_them(fields: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ImageSpec(**fields)


def test_builders_return_changed_copies_and_names_follow_the_fields() -> None:
    spec = ImageSpec(name="Mine", registry="ghcr.io/Me", packages=["numpy"])
    assert (spec.name, spec.registry) == ("mine", "ghcr.io/me")
    more = spec.with_packages("pandas").with_apt_packages(["git"]).with_commands("echo")
    assert spec.packages == ("numpy",) and spec.apt_packages is None  # unchanged
    assert more.packages == ("numpy", "pandas") and more.apt_packages == ("git",)
    assert more.commands == ("echo",)
    assert spec.image_name() == f"ghcr.io/me/mine:{spec.tag}"
    assert ImageSpec(name="mine", registry="ghcr.io/me", packages=["numpy"]).id == spec.id
    assert more.id != spec.id and more.image_name() != spec.image_name()
    assert ImageSpec(tag_format="{spec_hash}-dev").tag.endswith("-dev")
    pushed = spec.force_push()
    assert pushed == spec and pushed.id == spec.id  # the same image, pushed again
    assert spec.exist() is True and ImageSpec(base_image="python:3.11").exist() is None
    assert spec.is_container()  # outside a task's attempt, as in flytekit


def test_from_dict_refuses_unknown_fields_listing_the_known_ones() -> None:
    assert ImageSpec.from_dict({"packages": ["x"]}, "spec.yaml").packages == ("x",)
    with pytest.raises(ConfigError, match=r"spec.yaml: unknown ImageSpec field\(s\) "
                                          r"\['pakages'\]; known fields: name, "):
        ImageSpec.from_dict({"pakages": ["x"]}, "spec.yaml")


# --- the spec --------------------------------------------------------------------------


def test_the_spec_records_an_image_spec_and_round_trips(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# pinned\nrequests==2.0  # http\n\nidna\n")
    base = ImageSpec(name="base", env={"A": "base", "B": "base"}, packages=["numpy"])
    image = ImageSpec(name="top", base_image=base, env={"A": "top"},
                      requirements=str(requirements), pip_index="https://pypi.example/simple",
                      pip_extra_index_url=["https://extra.example/simple"])

    @task(container_image=image)
    def imaged() -> int:
        return 1

    spec = imaged.spec()
    record = spec.metadata.image_spec
    assert record is not None and spec.metadata.container_image == image.image_name()
    assert record.packages == ("numpy", "requests==2.0", "idna")
    assert dict(record.env) == {"A": "top", "B": "base"}
    assert record.pip_options == ("--index-url", "https://pypi.example/simple",
                                  "--extra-index-url", "https://extra.example/simple")
    assert TaskSpec.from_dict(spec.to_dict()) == spec
    assert spec.to_dict()["metadata"]["image_spec"]["format"] == 1

    @task(container_image=image)
    def imaged_again() -> int:
        return 1

    assert imaged_again.spec().metadata == spec.metadata  # the same record, digest alike
    requirements.write_text("idna\n")
    changed = ImageSpec(name="top", base_image=base, requirements=str(requirements))
    assert changed.tag != ImageSpec(name="top", base_image=base,
                                    requirements=str(requirements), env={"A": "top"}).tag

    @task(container_image="ghcr.io/me/plain:1")
    def named() -> int:
        return 1

    # A string keeps today's meaning, and no new key enters other tasks' JSON.
    assert named.spec().metadata.container_image == "ghcr.io/me/plain:1"
    assert "image_spec" not in named.spec().to_dict()["metadata"]
    with pytest.raises(ConfigError, match="field 'requirements': cannot read"):
        task(container_image=ImageSpec(requirements=str(tmp_path / "none.txt")))(named.fn)


# --- the runtime environment -----------------------------------------------------------


def _env_of(image: ImageSpec) -> dict[str, Any] | None:
    return runtime_env(image.record(), "task 't'")


def test_packages_become_ray_pip_with_the_index_options() -> None:
    image = ImageSpec(packages=["numpy==2.0"], env={"X": "1"},
                      pip_index="https://pypi.example/simple", pip_extra_args="--pre")
    assert _env_of(image) == {
        "env_vars": {"X": "1", "_F_IMG_ID": image.id},
        "pip": {"packages": ["numpy==2.0"], "pip_check": False,
                "pip_install_options": ["--disable-pip-version-check", "--no-cache-dir",
                                        "--index-url", "https://pypi.example/simple",
                                        "--pre"]},
    }
    assert _env_of(ImageSpec(env={"X": "1"})) == {"env_vars": {"X": "1",
                                                               "_F_IMG_ID": ImageSpec(
                                                                   env={"X": "1"}).id}}
    assert _env_of(ImageSpec(base_image="ghcr.io/me/img:1", env={"X": "1"}))["image_uri"] \
        == "ghcr.io/me/img:1"  # type: ignore[index]
    assert runtime_env(None, "task 't'") is None


@pytest.mark.parametrize(("image", "message"), [
    (ImageSpec(apt_packages=["git"]), "sets apt_packages=['git'], which only an image build"),
    (ImageSpec(conda_packages=["numpy"]), "give their pip names in packages"),
    (ImageSpec(commands=["make"]), "sets commands=['make']"),
    (ImageSpec(cuda="12.1"), "Resources(gpu=...)"),
    (ImageSpec(base_image="img:1", packages=["x"]), "cannot pip-install into it"),
    (ImageSpec(python_version="2.7"), "asks for Python 2.7, but the cluster runs Python 3"),
])
def test_what_a_runtime_env_cannot_do_is_refused_saying_what_to_do(
        image: ImageSpec, message: str) -> None:
    with pytest.raises(ConfigError, match=r"task 't': ImageSpec .*" + _escaped(message)):
        _env_of(image)


def _escaped(text: str) -> str:
    return "".join("\\" + c if c in "()[].*+?" else c for c in text)


def test_the_cluster_python_version_is_accepted() -> None:
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert _env_of(ImageSpec(python_version=here)) is not None


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("ray_cluster")
def test_tasks_with_different_images_run_side_by_side_each_in_its_env() -> None:
    wf = image_wfs.side_by_side
    result = run(wf.compile(), wf.bind_inputs((), {"var": "FLYRAY_IMAGE_VAR"}))
    assert result.outputs == ["from-image", "from-other", "<unset>"]
    check = run(image_wfs.image_check.compile(), {})
    assert check.outputs == "image=True other=False"
    mapped = run(image_wfs.mapped.compile(), {"vars": ["FLYRAY_IMAGE_VAR"] * 2})
    assert mapped.outputs == ["from-image", "from-image"]


@pytest.mark.usefixtures("ray_cluster")
def test_a_run_needing_an_image_build_is_refused_before_it_starts() -> None:
    with pytest.raises(ConfigError, match="node 'n0': ImageSpec apt:.* apt_packages"):
        run(image_wfs.apt_wf.compile(), {})
