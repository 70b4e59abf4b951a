"""A task's spec as a namespace and a run's images make it: shared by every task kind
written in Python (function tasks, ``PythonTask`` subclasses)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

from engine.config import chosen_namespace, current_namespace
from engine.core.image_spec import Image, image_fields, images_key, resolve
from engine.dag.spec import Identifier, ResourceType, TaskSpec
from engine.dag.spec import TaskMetadata as MetadataSpec
from engine.types.interface import PythonInterface, to_spec_interface


def cached_spec(specs: dict[object, TaskSpec], name: str, interface: PythonInterface,
                metadata: MetadataSpec, image: Image | None,
                locate: Callable[[], tuple[str, str]], code: Callable[[], str]) -> TaskSpec:
    """The spec of task ``name`` in the chosen project and domain, with the images in use
    applied to its ``image``; kept in ``specs`` (the task's own cache) by both.

    Its version hashes the spec and ``code()``, the text of what the task runs. ``locate``
    gives the (module, attribute) a remote driver finds the task by; both are called only
    when the spec is made.
    """
    chosen = chosen_namespace()
    images = images_key()
    key = (chosen, images) if images else chosen
    spec = specs.get(key)
    if spec is None:
        project, domain = chosen or current_namespace()
        iface = to_spec_interface(interface, f"task '{name}'")
        ident = Identifier(ResourceType.TASK, project, domain, name, "")
        resolved = resolve(image)
        if resolved is not image:
            metadata = dataclasses.replace(metadata, **image_fields(resolved))
        module, attribute = locate()
        unversioned = TaskSpec(ident, iface, metadata, module, attribute)
        digest = hashlib.sha256(repr(unversioned.to_dict()).encode())
        digest.update(code().encode())
        spec = dataclasses.replace(
            unversioned, id=dataclasses.replace(ident, version=digest.hexdigest()[:16]))
        specs[key] = spec
    return spec
