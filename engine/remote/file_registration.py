"""Registering an artifact (``flyray register files``): the specs of ``flyray package`` or
``flyray serialize``, moved to one project, domain and version, with the code bundle
uploaded to the blob store, exactly as ``flyray register`` would have sent them, and
nothing of the user's code imported. :func:`compare` is its dry run: what the admin API
holds at that version, entity by entity.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.admin_client import AdminClient, AdminRequestError
from engine.catalog.blob import BlobStore
from engine.dag.spec.diff import json_diff
from engine.errors import InputValueError
from engine.remote._admin import path_of
from engine.remote.artifacts import Artifact
from engine.remote.packages import Found
from engine.remote.registration import (
    ENTITY_PATHS,
    Registration,
    Step,
    register_steps,
    with_raw_output_prefix,
    with_version,
)


def planned_steps(artifact: Artifact, project: str, domain: str, version: str | None,
                  raw_output_prefix: str | None = None) -> tuple[list[Step], str]:
    """The artifact's steps in ``project``/``domain`` at ``version`` (default: the one
    its specs are at), and that version. Raises InputValueError, SpecError."""
    version = version or artifact.version
    if not version:
        raise InputValueError("the spec files are not all at one version and no package "
                              "manifest says which; give --version")
    steps = with_version(artifact.steps, project, domain, version)
    if raw_output_prefix is not None:
        steps = with_raw_output_prefix(steps, raw_output_prefix)
    return steps, version


def register_artifact(artifact: Artifact, admin: AdminClient, store: BlobStore,
                      project: str, domain: str, version: str | None,
                      raw_output_prefix: str | None = None) -> Registration:
    """Upload the artifact's bundle and register its specs, as ``flyray register`` does.

    Raises RegistrationError at the first refusal, InputValueError, SpecError."""
    steps, version = planned_steps(artifact, project, domain, version, raw_output_prefix)
    code_uri, done = register_steps(steps, artifact.bundle, admin, store)
    return Registration(Found(), artifact.bundle, code_uri, project, domain, version, done,
                        list(artifact.outside))


@dataclass(frozen=True)
class Comparison:
    """One step against what the admin API holds under its identifier."""

    step: Step
    status: str  # "new": not registered; "identical"; "differs": registering is refused
    differences: tuple[str, ...] = ()  # JSON paths in the spec, and "code_uri"


def compare(admin: AdminClient, steps: list[Step], code_uri: str | None) -> list[Comparison]:
    """Each step against the entity registered under its identifier (a GET each): the
    admin API refuses one that differs (409), keeps one that is identical."""
    found: list[Comparison] = []
    for step in steps:
        ident = step.id
        path = (f"{ENTITY_PATHS[step.kind]}/"
                f"{path_of(f'{ident.project}/{ident.domain}/{ident.name}/{ident.version}')}")
        try:
            registered = admin.get(path)
        except AdminRequestError as e:
            if e.status != 404:
                raise
            found.append(Comparison(step, "new"))
            continue
        differences = json_diff(registered.get("spec"), step.spec)
        if code_uri is not None and registered.get("code_uri") not in (None, code_uri):
            differences.append("code_uri")
        found.append(Comparison(step, "differs" if differences else "identical",
                                tuple(differences)))
    return found
