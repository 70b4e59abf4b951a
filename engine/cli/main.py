"""The ``flyray`` command.

Its subcommands are imported only when one runs or shows its own help: ``flyray --help``
lists them from the short help strings kept here, without importing any of them (some
import Ray, rich, SQLAlchemy or the admin client).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a subcommand is defined, and its line in ``flyray --help``."""

    module: str
    attribute: str
    short_help: str
    # Subcommands added to it once loaded, as (module, attribute): they import the
    # command's own module, so that module cannot add them itself.
    subcommands: tuple[tuple[str, str], ...] = ()


COMMANDS: dict[str, LazyCommand] = {
    "run": LazyCommand("engine.cli.run", "run",
                       "Run a task or workflow of a Python file, locally or --remote."),
    "init": LazyCommand("engine.cli.init", "init",
                        "Create a project from a template (basic, classification)."),
    "launch": LazyCommand("engine.cli.launch", "launch",
                          "Run a registered launch plan on the admin API."),
    "get": LazyCommand("engine.cli.get", "get",
                       "List or show what the admin API holds (-o json|yaml)."),
    "create": LazyCommand("engine.cli.project", "create", "Create a project."),
    "register": LazyCommand("engine.cli.register", "register_command",
                            "Register a package's tasks, workflows and launch plans.",
                            (("engine.cli.register_files", "register_files"),)),
    "package": LazyCommand("engine.cli.package", "package",
                           "Write a package's specs and code bundle to files, for CI."),
    "serialize": LazyCommand("engine.cli.package", "serialize",
                             "Write a package's specs (no code bundle) to files."),
    "execution": LazyCommand("engine.cli.execution", "execution",
                             "Terminate, relaunch or recover an execution."),
    "logs": LazyCommand("engine.cli.logs", "logs",
                        "Show what the tasks of an execution printed and logged."),
    "signal": LazyCommand("engine.cli.signal", "signal",
                          "Set or list the signals gate nodes of an execution wait for."),
    "launchplan": LazyCommand("engine.cli.launchplan", "launchplan",
                              "Activate or deactivate a launch plan version."),
    "cache": LazyCommand("engine.cli.cache", "cache",
                         "See and manage cached task results."),
    "cluster": LazyCommand("engine.cli.cluster", "cluster",
                           "Start or stop a local Ray cluster that runs reuse."),
    "demo": LazyCommand("engine.cli.demo", "demo",
                        "Start, stop or inspect a local Flyray control plane."),
}


def load(spec: LazyCommand) -> click.Command:
    """The command ``spec`` names, with its subcommands added."""
    command: object = getattr(importlib.import_module(spec.module), spec.attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{spec.module}.{spec.attribute} is not a click command")
    if spec.subcommands:
        if not isinstance(command, click.Group):
            raise TypeError(f"{spec.module}.{spec.attribute} is not a click group")
        for module, attribute in spec.subcommands:
            command.add_command(getattr(importlib.import_module(module), attribute))
    return command


class LazyGroup(click.Group):
    """A group whose subcommands (``lazy``) are imported on first use."""

    def __init__(self, name: str, help_text: str, lazy: dict[str, LazyCommand]) -> None:
        super().__init__(name=name, help=help_text)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self.add_command(load(self.lazy[cmd_name]), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their short help, without importing them."""
        rows = [(name, spec.short_help) for name, spec in self.lazy.items()]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in self.commands.items()
                 if name not in self.lazy and not cmd.hidden]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


cli = LazyGroup("flyray", "Flyray: Flyte-style typed workflows on Ray.", COMMANDS)
click.version_option(package_name="flyray")(cli)


def main() -> None:
    # A local run goes to the warm runtime's prepared driver when there is one: it has
    # done the imports and the Ray connection that this process would do.
    from engine.cli import spare_client

    if spare_client.wanted(sys.argv[1:]):
        code = spare_client.run_in_spare(sys.argv[1:])
        if code is not None:
            sys.exit(code)
    cli()
