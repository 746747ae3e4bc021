"""The base of every config model: unknown keys rejected, and numbers that are really numbers.

pydantic's lax mode reads `true` as 1 and accepts inf/NaN: `timeout_s = true` would be a one-second
timeout and `estimated_duration_s = inf` an overflow at `hyperwatt plan`. Every field whose type is
made of int/float only (optionally None, or a list/tuple of them) refuses booleans and non-finite
values here, and a bool field takes only true or false, with one message for all models.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

_NUMBERS = (int, float)


def _numeric(annotation: Any) -> bool:
    """True for int, float, their Optional, and lists/tuples of them; False once bool/str/... can appear."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if origin is typing.Union or origin is types.UnionType:
        return bool(args) and all(_numeric(a) for a in args)
    if origin in (list, tuple):
        return bool(args) and all(_numeric(a) for a in args)
    return annotation in _NUMBERS


def _leaves(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if cls._numeric_field(info.field_name) and any(isinstance(v, bool) for v in _leaves(value)):
            raise ValueError(f"expected a number, got a boolean ({str(value).lower()})")
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and field.annotation is bool and not isinstance(value, bool):
            # lax mode reads "yes", "off", 0 and 1 as booleans; a typo there must not flip a switch
            raise ValueError(f"expected true or false, got {value!r}")
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _finite_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if cls._numeric_field(info.field_name):
            for v in _leaves(value):
                if isinstance(v, float) and not math.isfinite(v):
                    raise ValueError(f"must be a finite number, got {v}")
        return value

    @classmethod
    def _numeric_field(cls, name: str | None) -> bool:
        field = cls.model_fields.get(name or "")
        return field is not None and _numeric(field.annotation)
