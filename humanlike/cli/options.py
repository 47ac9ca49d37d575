"""Flags built from configuration classes, so that each option's default is stated once, in its class.

A configuration class is a pydantic model (``ServeConfig``: a field's ``description`` is its help) or a
dataclass (``TransformerConfig``: a field's ``metadata["help"]``). Every generated flag defaults to None on
the command line, so that :func:`set_flags` can tell what was given from what was not; the class's
default (and its environment variable, where the class reads one) is added to the help text.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

_ArgGroup = argparse.ArgumentParser | argparse._ArgumentGroup


@dataclasses.dataclass(frozen=True)
class ConfigField:
    name: str
    annotation: Any
    default: Any
    help: str


def config_fields(cls: type) -> dict[str, ConfigField]:
    """Name, type, default and help of each field of a pydantic model or a dataclass."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return {
            name: ConfigField(
                name,
                f.annotation,
                None if f.default is PydanticUndefined else f.default,
                f.description or "",
            )
            for name, f in cls.model_fields.items()
        }
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(typing.cast(Any, cls)):
        default = f.default if f.default is not dataclasses.MISSING else None
        out[f.name] = ConfigField(f.name, hints[f.name], default, f.metadata.get("help", ""))
    return out


def _without_none(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def _default_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def add_config_flags(
    parser: _ArgGroup,
    cls: type,
    names: Iterable[str],
    *,
    flags: Mapping[str, str] | None = None,
    env_prefix: str | None = None,
    dest_prefix: str = "",
    types: Mapping[str, Any] | None = None,
) -> None:
    """Adds ``--<name>`` (or ``flags[name]``) for each named field of ``cls``.

    Args:
        env_prefix: the class also reads ``<env_prefix><NAME>``; say so in the help.
        dest_prefix: prefix of the ``args`` attribute (two classes with a field of the same name).
        types: the flag's argparse ``type`` where the field's own does not fit (a port that may be "off").
    """
    fields = config_fields(cls)
    for name in names:
        f = fields[name]
        kind = _without_none(f.annotation)
        notes = [f"default: {_default_text(f.default)}"] if f.default is not None else []
        if env_prefix:
            notes.append(f"env {env_prefix}{name.upper()}")
        help_text = f"{f.help} ({'; '.join(notes)})" if notes else f.help
        kwargs: dict[str, Any] = {"dest": dest_prefix + name, "default": None, "help": help_text}
        if types and name in types:
            kwargs["type"] = types[name]
        elif kind is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(kind) is Literal:
            kwargs["choices"] = list(typing.get_args(kind))
        elif kind in (int, float, str, Path):
            kwargs["type"] = kind
        else:
            raise TypeError(f"no flag type for {cls.__name__}.{name}: {f.annotation}")
        flag = (flags or {}).get(name, "--" + name.replace("_", "-"))
        if "action" not in kwargs and "choices" not in kwargs:
            kwargs["metavar"] = flag.lstrip("-").upper().replace("-", "_")
        parser.add_argument(flag, **kwargs)


def set_flags(args: argparse.Namespace, names: Iterable[str], dest_prefix: str = "") -> dict[str, Any]:
    """The named fields that were given on the command line, by field name."""
    given = {name: getattr(args, dest_prefix + name, None) for name in names}
    return {name: value for name, value in given.items() if value is not None}


def config_from_flags(
    cls: type, args: argparse.Namespace, names: Iterable[str], base: Any = None, dest_prefix: str = ""
) -> Any:
    """``base`` (default: the class's defaults) with the given flags replacing its fields."""
    values = set_flags(args, names, dest_prefix)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return cls.model_validate({**(base.model_dump() if base is not None else {}), **values})
    return dataclasses.replace(typing.cast(Any, base if base is not None else cls()), **values)
