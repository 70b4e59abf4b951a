"""``ShellTask``: a bash script as a task, at flytekit's module path.

    t = ShellTask(
        name="count_lines",
        script="wc -l < {inputs.f} > {outputs.n}",
        inputs=kwtypes(f=FlyteFile),
        output_locs=[OutputLocation(var="n", var_type=FlyteFile,
                                    location="{ctx.working_directory}/n.txt")],
    )

``{inputs.x}`` becomes the input's value (a file or directory input: its local
path, downloaded first), ``{outputs.y}`` the rendered location of an output and
``{ctx.working_directory}`` the attempt's scratch directory, where the script runs
(so a relative output location, ``location="out.txt"``, is a file there). A non-zero exit
fails the attempt as a user error, with the end of stderr in the message.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import subprocess
from dataclasses import dataclass
from typing import Any

from engine.config import chosen_namespace, current_namespace
from engine.dag.compiler import add_task_node
from engine.dag.run.context import current_context
from engine.dag.spec import Identifier, ResourceType, TaskMetadata, TaskSpec
from engine.dag.trace import is_compiling
from engine.errors import ConfigError, FlyrayError
from engine.types._blob import Blob
from engine.types.interface import (
    PythonInterface,
    bind_inputs,
    default_named_tuple,
    to_spec_interface,
)

_FIELD = re.compile(r"\{(inputs|outputs|ctx)\.([A-Za-z_][A-Za-z0-9_]*)\}")


class ShellError(FlyrayError):
    """The script of a ShellTask exited with a non-zero status."""


@dataclass(frozen=True)
class OutputLocation:
    """Where a ShellTask's script leaves an output (FlyteFile or FlyteDirectory)."""

    var: str
    var_type: type
    location: str


class ShellTask:
    """A task that runs a templated bash script (see the module docstring)."""

    _flyray_entity = True

    def __init__(self, name: str, script: str, inputs: dict[str, Any] | None = None,
                 output_locs: list[OutputLocation] | None = None, debug: bool = False,
                 **_: Any) -> None:
        self.name = name
        self.script = script
        self.debug = debug
        self.output_locs = list(output_locs or [])
        for loc in self.output_locs:
            if not (isinstance(loc.var_type, type) and issubclass(loc.var_type, Blob)):
                raise ConfigError(f"ShellTask '{name}': output '{loc.var}' must be a "
                                  f"FlyteFile or FlyteDirectory, not {loc.var_type!r}")
        names = [loc.var for loc in self.output_locs]
        self.python_interface = PythonInterface(
            inputs=dict(inputs or {}), defaults={},
            outputs={loc.var: loc.var_type for loc in self.output_locs},
            output_tuple=default_named_tuple(names) if len(names) > 1 else None,
        )
        caller = inspect.getmodule(inspect.stack()[1].frame)
        self._module = caller.__name__ if caller else ""
        # By namespace() block (None: the settings' project and domain).
        self._specs: dict[tuple[str, str] | None, TaskSpec] = {}

    def __repr__(self) -> str:
        return f"<shell task {self.name}>"

    def spec(self) -> TaskSpec:
        chosen = chosen_namespace()
        spec = self._specs.get(chosen)
        if spec is None:
            project, domain = chosen or current_namespace()
            iface = to_spec_interface(self.python_interface, f"ShellTask '{self.name}'")
            version = hashlib.sha256((self.script + repr(iface.to_dict())).encode())
            spec = TaskSpec(
                Identifier(ResourceType.TASK, project, domain, self.name,
                           version.hexdigest()[:16]),
                iface, TaskMetadata(), self._module, self.name,
            )
            self._specs[chosen] = spec
        return spec

    def _render(self, text: str, inputs: dict[str, Any], outputs: dict[str, str]) -> str:
        def value(match: re.Match[str]) -> str:
            kind, key = match.groups()
            if kind == "ctx":
                if key != "working_directory":
                    raise ConfigError(f"ShellTask '{self.name}': unknown {{ctx.{key}}}")
                return str(current_context().working_directory)
            source = inputs if kind == "inputs" else outputs
            if key not in source:
                raise ConfigError(f"ShellTask '{self.name}': the script uses {{{kind}.{key}}} "
                                  f"but the task has no such {kind[:-1]}")
            item = source[key]
            return item.download() if isinstance(item, Blob) else str(item)

        return _FIELD.sub(value, text)

    def run_function(self, inputs: dict[str, Any]) -> list[Any]:
        """Render the script, run it with bash, and return the output locations."""
        outputs: dict[str, str] = {}
        for loc in self.output_locs:
            outputs[loc.var] = self._render(loc.location, inputs, outputs)
        script = self._render(self.script, inputs, outputs)
        workdir = current_context().working_directory
        proc = subprocess.run(["bash", "-c", script], cwd=workdir, capture_output=True,
                              text=True, check=False)
        if self.debug:
            print(proc.stdout, end="")
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.strip().splitlines()[-20:])
            raise ShellError(f"ShellTask '{self.name}': the script exited with status "
                             f"{proc.returncode}; stderr:\n{tail}")
        # The script ran in the working directory: a relative location is relative to it.
        return [loc.var_type(os.path.join(workdir, outputs[loc.var]))
                for loc in self.output_locs]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if is_compiling():
            return add_task_node(self, args, kwargs)
        bound = bind_inputs(f"ShellTask '{self.name}'", self.python_interface, args, kwargs)
        return self.python_interface.pack_outputs(self.run_function(bound))
