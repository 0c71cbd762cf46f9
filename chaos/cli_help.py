"""How every `fleetchaos` command reads in help and on the terminal, for all commands at once.

Typer names parameters by their Python types (`<list[str]>`, `<bool>`, `{scenario}`); `HelpGroup`
gives every command of the app (also those other modules register) plain metavars instead —
SCENARIO, DIR, N, KEY=VALUE — and none for flags; the app uses click's plain help layout (rich's
boxed one shows `--help <bool>` and splits choice lists mid-word in narrow columns). Output that is not a terminal (a file, a CI log)
is not wrapped at 80 columns: `console()` and the help formatter use the full line then.
"""
from __future__ import annotations

import re
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

# Option names whose value reads better under a name than under its type.
_NAMED = {"out": "DIR", "catalog": "DIR", "set": "KEY=VALUE", "seed": "N"}


def is_terminal(stream=None) -> bool:
    stream = stream if stream is not None else sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def console(stderr: bool = False):
    """A rich Console that wraps at the terminal's width, or not at all when the output is a file or
    a pipe (a CI log keeps each line whole)."""
    from rich.console import Console
    tty = is_terminal(sys.stderr if stderr else sys.stdout)
    return Console(stderr=stderr, width=None if tty else 400, soft_wrap=not tty, highlight=False)


def _metavar(param: Any) -> str:
    name = (param.name or "value").rstrip("_")
    if name in _NAMED:
        return _NAMED[name]
    argument = getattr(param, "param_type_name", "") == "argument"
    desc = getattr(param, "type_descriptor", None)       # Typer's parameters describe their annotation
    if desc is not None:
        annotation = desc.annotation
        if desc.is_list:
            from typing import get_args
            annotation = (get_args(annotation) or (str,))[0]
        if desc.is_choice or argument:
            return name.upper()
        if desc.is_path:
            return "PATH"
        if annotation is int:
            return "N"
        if annotation is float:
            return "X"
        return "TEXT"
    # a click-style parameter type (typer before 0.29 used click's; 0.29 vendors click without them):
    # read by duck typing, so fleetchaos needs no click of its own
    t = getattr(param, "type", None)
    if argument or hasattr(t, "choices"):
        return name.upper()
    if type(t).__name__ == "Path":
        return "PATH"
    if getattr(t, "name", "") == "integer":
        return "N"
    return "TEXT"


def plain_params(command: Any) -> None:
    """Give each parameter of `command` a plain metavar (flags none), recursively for groups."""
    for p in command.params:
        if p.metavar is not None:
            continue
        if getattr(p, "param_type_name", "") == "option" and (getattr(p, "is_flag", False) or getattr(p, "count", False)):
            p.metavar = ""
        else:
            p.metavar = _metavar(p)
    if isinstance(getattr(command, "commands", None), dict):     # a group
        for sub in command.commands.values():
            plain_params(sub)


_BRACED = re.compile(r"\{([A-Z][A-Z0-9_.=]*(?:\.\.\.)?)\}")
_TYPE = re.compile(r"(?<=[A-Z.]) <[^<>\s]+>")


def plain_help(text: str) -> str:
    """Typer's `{SCENARIO}` in a usage line and `SCENARIO <path>` in the arguments become plain names."""
    return _TYPE.sub("", _BRACED.sub(r"\1", text))


class HelpCommand(TyperCommand):
    """A command whose help has plain names (see the module docstring)."""

    def get_help(self, ctx) -> str:
        return plain_help(super().get_help(ctx))

    def get_usage(self, ctx) -> str:
        return plain_help(super().get_usage(ctx))


class App(typer.Typer):
    """The fleetchaos app: every command registered on it — here or in another module — is a
    HelpCommand, and its group a HelpGroup."""

    def command(self, *args, cls=None, **kwargs):
        return super().command(*args, cls=cls or HelpCommand, **kwargs)


class HelpGroup(TyperGroup):
    """The app's group: every command registered on it gets plain metavars, whoever registered it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        plain_params(self)

    def add_command(self, cmd: Any, name: str | None = None) -> None:
        super().add_command(cmd, name)
        plain_params(cmd)

    def get_command(self, ctx: Any, cmd_name: str):
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            plain_params(cmd)
        return cmd


def context_settings() -> dict:
    """Help text at the terminal's width, or unwrapped (up to 400 columns) when not a terminal."""
    if is_terminal():
        return {"help_option_names": ["--help", "-h"]}
    return {"help_option_names": ["--help", "-h"], "max_content_width": 400, "terminal_width": 400}
