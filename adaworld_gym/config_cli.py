"""Command-line options made from a config dataclass, so each option is declared once: as a field.

`config_command(Config, run)` is a typer command with one `--option` per field of `Config` (the field's name with
dashes, or the `flag` in the field's metadata), its default the field's, its help the comment on the field (the
lines right above it and the one after it). The command builds `Config(**options)` and calls `run(config)`; a
`ValueError` from the config's own checks becomes a usage error that names the problem. Field types the CLI takes:

- `bool`: a `--flag / --no-flag` pair; `int`, `float`, `str`, `Path` and their `| None`: one value;
- `list[str]`, `list[Path]`, `list[int]`, `list[float]` (or `| None`): comma-separated, and the option may be
  repeated;
- `dict[str, Any]`: a JSON object.

A field with `metadata={"cli": False}` is no option: the command leaves it at its default.

`check_at_least(config, {"steps": 1, ...})` is the range check the configs share.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.markup import escape

SCALARS = (bool, int, float, str, Path)


def check_at_least(config: Any, minimums: dict[str, float]) -> None:
    """A ValueError naming the first field of `config` below its minimum (None counts as unset)."""
    for name, least in minimums.items():
        value = getattr(config, name)
        if value is not None and value < least:
            raise ValueError(f"{name} must be at least {least}, got {value}")


def field_docs(config_type: type) -> dict[str, str]:
    """Each field's comment, from the class source; a subclass's comment on a field (most often why it changes
    the default) follows its base's."""
    docs: dict[str, str] = {}
    for cls in reversed(config_type.__mro__):
        if cls is object or "__dataclass_fields__" not in vars(cls):
            continue
        source = textwrap.dedent(inspect.getsource(cls))
        lines = source.splitlines()
        comments = {token.start[0]: token.string.lstrip("#").strip()
                    for token in tokenize.generate_tokens(io.StringIO(source).readline)
                    if token.type == tokenize.COMMENT}
        for node in ast.parse(source).body[0].body:
            if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
                continue
            above = []
            line = node.lineno - 1
            while line in comments and lines[line - 1].lstrip().startswith("#"):
                above.insert(0, comments[line])
                line -= 1
            after = [comments[n] for n in range(node.lineno, node.end_lineno + 1) if n in comments]
            if above or after:
                name = node.target.id
                doc = " ".join(above + after)
                docs[name] = f"{_sentence(docs[name])} {doc}" if name in docs else doc
    return docs


def _plain(text: str | None) -> str | None:
    """Help text as written: typer renders help as rich markup, where "[doom]" would be a tag."""
    return None if text is None else escape(text)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _default(item: Field) -> Any:
    if item.default is not MISSING:
        return item.default
    if item.default_factory is not MISSING:
        return item.default_factory()
    return MISSING


class _Option(typing.NamedTuple):
    flag: str  # --name
    annotation: Any  # what typer parses
    default: Any  # typer's default: ... (required), a value, or None (omitted: the field's default)
    shown: Any  # the default as help shows it (False: none shown)
    metavar: str | None
    parse: Callable[[Any], Any]


def _option(item: Field, annotation: Any) -> _Option:
    inner, optional = _unwrap_optional(annotation)
    default = _default(item)
    flag = item.metadata.get("flag", "--" + item.name.replace("_", "-"))
    origin = typing.get_origin(inner)
    if inner in SCALARS:
        if default is MISSING:
            return _Option(flag, inner, ..., False, None, lambda value: value)
        return _Option(flag, Optional[inner] if optional else inner, default, default is not None, None,
                       lambda value: value)
    if origin is list and typing.get_args(inner)[0] in (str, Path, int, float):
        element = typing.get_args(inner)[0]

        def split(values: list[str]) -> list[Any]:
            return [element(part.strip()) for value in values for part in value.split(",") if part.strip()]
        if default is MISSING:
            return _Option(flag, list[str], ..., False, "A,B,...", split)
        shown = ",".join(str(v) for v in default) if default is not None else False
        return _Option(flag, Optional[list[str]], None, shown, "A,B,...", split)
    if dict in (inner, origin):
        def parse_json(text: str) -> dict[str, Any]:
            try:
                value = json.loads(text)
            except json.JSONDecodeError as error:
                raise typer.BadParameter(f"not JSON: {error}", param_hint=flag)
            if not isinstance(value, dict):
                raise typer.BadParameter("wants a JSON object", param_hint=flag)
            return value
        return _Option(flag, Optional[str], None, json.dumps(default), "JSON", parse_json)
    raise TypeError(f"{item.name}: the CLI takes no field of type {annotation!r}")


def config_options(config_type: type) -> dict[str, _Option]:
    """The option of every CLI field of `config_type`, in field order."""
    hints = typing.get_type_hints(config_type)
    return {item.name: _option(item, hints[item.name]) for item in cli_fields(config_type)}


def cli_fields(config_type: type) -> list[Field]:
    """The init fields of `config_type` but those whose metadata says `"cli": False` (settings made in code, such
    as a nested config, which keep their default on the command line)."""
    return [item for item in fields(config_type) if item.init and item.metadata.get("cli", True)]


def config_command(config_type: type, run: Callable[[Any], None], *, help: str | None = None,
                   defaults: dict[str, Any] | None = None) -> Callable[..., None]:
    """A typer command taking every field of `config_type` as an option and calling `run(config)`.

    `defaults` replaces some fields' defaults for this command (a benchmark writing to its own results folder).
    """
    options = config_options(config_type)
    for name, value in (defaults or {}).items():
        options[name] = options[name]._replace(default=value, shown=value)
    docs = field_docs(config_type)
    parameters = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=option.annotation,
                          default=typer.Option(option.default, option.flag, help=_plain(docs.get(name)),
                                               show_default=option.shown, metavar=option.metavar))
        for name, option in options.items()]

    def command(**values: Any) -> None:
        given = {name: options[name].parse(value) for name, value in values.items() if value is not None}
        try:
            config = config_type(**given)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
        run(config)

    command.__signature__ = inspect.Signature(parameters)  # what typer reads the options from
    command.__doc__ = " ".join((help or config_type.__doc__ or "").split())  # one paragraph, as typer shows it
    return command
