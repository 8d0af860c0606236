"""Typed, validated parameters: the framework every chapter's config is built with.

A config is a frozen dataclass of fields made with :func:`param` (a default, a check, a line of
documentation). :meth:`Parameters.from_params` converts what papermill or YAML hands over to each
field's type, runs each field's check and then :meth:`Parameters.validate` (checks that need context
or several fields), raising one :class:`ParameterError` that names the parameter and what is allowed,
before any work starts or any file is written. The chapters' own configs are in
``helpers.chapters.configs``.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Self

from helpers.core import paths


class ParameterError(ValueError):
    """A parameter has a value outside what is allowed; the message names both."""

    def __init__(self, name: str, value: Any, allowed: str) -> None:
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"parameter {name!r} = {value!r} is not allowed; allowed: {allowed}")


# --------------------------------------------------------------------------------------------
# Field checks: each returns None when the value is fine, else the text of what is allowed.

Check = Callable[[Any], str | None]


def positive(value: int | float | list) -> str | None:
    items = value if isinstance(value, list) else [value]
    return None if all(v > 0 for v in items) else "numbers greater than zero"


def nonempty(value: list) -> str | None:
    return None if len(value) > 0 else "a non-empty list"


def within(low: float, high: float, high_open: bool = True, low_open: bool = False) -> Check:
    """Every number in [low, high) by default; the text names the interval."""
    text = f"numbers in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def check(value: float | list) -> str | None:
        items = value if isinstance(value, list) else [value]
        ok = all((v > low if low_open else v >= low) and (v < high if high_open else v <= high) for v in items)
        return None if ok else text

    return check


def one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        return None if value in choices else "one of " + ", ".join(repr(c) for c in choices)

    return check


def all_of(*checks: Check) -> Check:
    def check(value: Any) -> str | None:
        return next((msg for c in checks if (msg := c(value)) is not None), None)

    return check


def param(default: Any, check: Check | None = None, doc: str = "") -> Any:
    """A config field with a default, an optional check and a one-line description."""
    factory = (lambda: list(default)) if isinstance(default, list) else None
    meta = {"check": check, "doc": doc}
    if factory:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


# --------------------------------------------------------------------------------------------
# Checks that need context (the installed presets, the machine).


def check_preset(name: str) -> None:
    allowed = paths.available_presets()
    if name not in allowed:
        raise ParameterError("preset", name, "one of " + ", ".join(map(repr, allowed)) + " (files in presets/)")


DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(device: str) -> None:
    if not DEVICE_PATTERN.match(device):
        raise ParameterError("device", device, "'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps'")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ParameterError("device", device, "'auto' or 'cpu' (torch finds no CUDA device here)")


def check_runs_dir(runs_dir: str) -> None:
    if not runs_dir:
        return
    path = Path(runs_dir)
    existing = next(p for p in [path, *path.parents] if p.exists())
    if not existing.is_dir():
        raise ParameterError("runs_dir", runs_dir, f"a folder path ({existing} exists and is not a folder)")


# --------------------------------------------------------------------------------------------
# Type coercion from what papermill and YAML hand over.


def _coerce(name: str, value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ParameterError(name, value, f"a list of {getattr(item_type, '__name__', item_type)}")
        if typing.get_origin(item_type) is list:
            return [_coerce(name, v, item_type) for v in value]
        return [_coerce_scalar(name, v, item_type, in_list=True) for v in value]
    return _coerce_scalar(name, value, annotation)


def _coerce_scalar(name: str, value: Any, kind: type, in_list: bool = False) -> Any:
    what = f"a list of {kind.__name__}" if in_list else f"a {kind.__name__}"
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads 1e18 (no dot, no sign) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif kind is str:
        if isinstance(value, str):
            return value
    raise ParameterError(name, value, what)


@dataclass(frozen=True)
class Parameters:
    """A validated set of parameters. Subclasses are frozen dataclasses of :func:`param` fields."""

    chapter: ClassVar[str] = ""

    @classmethod
    def from_params(cls, **params: Any) -> Self:
        """Check and convert ``params``; raise :class:`ParameterError` on the first bad one."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        for name in params:
            if name not in known:
                raise ParameterError(name, params[name], "one of " + ", ".join(known))
        hints = typing.get_type_hints(cls)
        values = {}
        for name, value in params.items():
            values[name] = _coerce(name, value, hints[name])
            check = known[name].metadata.get("check")
            if check is not None and (allowed := check(values[name])) is not None:
                raise ParameterError(name, params[name], allowed)
        config = cls(**values)
        config.validate()
        return config

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> Self:
        """Build the config from a notebook's globals: exactly the config's fields are read."""
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in namespace]
        if missing:
            raise NameError(f"the parameters cell of {cls.chapter or cls.__name__} does not define {', '.join(missing)}")
        return cls.from_params(**{n: namespace[n] for n in names})

    def validate(self) -> None:
        """Checks that need context or several fields at once (none here)."""

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
