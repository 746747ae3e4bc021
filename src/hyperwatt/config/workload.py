"""Workload declarations: how to launch a training, its hyperparameters and how its metrics are read."""

from __future__ import annotations

import math
import re
import string
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from hyperwatt.config.base import StrictModel as _Strict
from hyperwatt.config.errors import suggest
from hyperwatt.metricsfile import PHASE_NAME

Scalar = bool | int | float | str
ParamType = Literal["int", "float", "str", "bool"]
Distribution = Literal["uniform", "log_uniform", "choice"]

NAME_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
#: Finite values larger than this are rejected: nobody trains with 1e13 epochs.
MAGNITUDE_LIMIT = 1e12
PLACEHOLDERS = ("python", "workdir", "repo", "model", "output_dir")
#: Placeholders in `metrics.files` (the argv's, less the interpreter).
FILE_PLACEHOLDERS = ("workdir", "repo", "model", "output_dir")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Set by hyperwatt for every training (docs/configuration.md, "Environment of a training").
RESERVED_ENV = frozenset({"PYTHONUNBUFFERED", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"})


def check_workload_name(name: str) -> str:
    """`repo/model`: two safe path parts, no separators beyond the one slash, no `..`."""
    parts = name.split("/")
    if len(parts) != 2 or not all(NAME_PART.match(p) and p not in (".", "..") for p in parts):
        raise ValueError(
            f"workload name {name!r} must be 'repo/model' made of ASCII letters, digits, '_', '-', '.', '+'"
        )
    return name


def check_number(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    if abs(value) > MAGNITUDE_LIMIT:
        raise ValueError(f"{what} {value:g} is larger than {MAGNITUDE_LIMIT:g}")
    return value


def check_placeholders(arg: str, placeholders: tuple[str, ...] = PLACEHOLDERS, what: str = "argv item") -> None:
    """Only the known `{placeholder}`s, bare; `{{` and `}}` are literal braces (as in str.format)."""
    known = ", ".join("{" + p + "}" for p in placeholders)
    escape = "; write {{ and }} for a literal brace"
    try:
        fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(arg) if f is not None]
    except ValueError:  # a single brace: unbalanced
        raise ValueError(f"{what} {arg!r} has an unmatched brace{escape}") from None
    for field, spec, conversion in fields:
        if field not in placeholders or spec or conversion:
            text = field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            raise ValueError(f"unknown placeholder {{{text}}} in {what.split()[0]}; known: {known}{escape}")


class HyperParam(_Strict):
    """One hyperparameter of a workload. `range` bounds mutation, not values a plan fixes; `values`
    lists the only values allowed (fixed or drawn), drawn from only with distribution "choice"."""

    #: How the value reaches the training; exactly one of the three. A flag ending in "=" is joined
    #: to its value (`--lr=0.1`, Hydra's `optimizer.lr=0.1`); otherwise `flag value` are two arguments.
    flag: str | None = Field(default=None, min_length=1)
    #: The environment variable that carries the value.
    env: str | None = None
    #: A positional argument: after the argv template, in declaration order, always passed.
    positional: bool = False
    type: ParamType
    default: Scalar | None = None
    range: tuple[float, float] | None = None
    #: int and float: the least value the training accepts (fixed or drawn); less is a plan error.
    minimum: float | None = None
    distribution: Distribution = "uniform"
    values: list[Scalar] | None = None
    zero_probability: float = Field(default=0.0, ge=0.0, lt=1.0)
    #: float only: passed with exactly this many decimals (the seed's `%.6f` is 6; 1e-7 becomes
    #: "0.000000"); none: the shortest text that reads back as the value
    decimals: int | None = Field(default=None, ge=0, le=20)
    #: bool only: "switch" passes the bare flag when true; "value" passes `flag true|false`.
    #: With `env`: "switch" sets the variable to 1 when true; "value" to true|false. Positional: true|false.
    bool_style: Literal["switch", "value"] = "switch"
    #: str only: the value names a folder ("dir") or a file ("file") that must exist before the training
    #: starts (relative to the workload's workdir); `plan` and `run` check it.
    path: Literal["dir", "file"] | None = None
    description: str = ""

    @field_validator("flag")
    @classmethod
    def _flag(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if any(c.isspace() for c in v) or "\0" in v:
            raise ValueError(f"flag {v!r} must not contain whitespace")
        if v == "=":
            raise ValueError("flag '=' names nothing; write the option before it, e.g. '--lr='")
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not ENV_NAME.match(v):
            raise ValueError(f"env {v!r} must be an environment variable name (letters, digits, '_')")
        if v in RESERVED_ENV or v.startswith("HYPERWATT_"):
            raise ValueError(f"env {v!r} is set by hyperwatt for every training; choose another variable")
        return v

    @field_validator("range")
    @classmethod
    def _range(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        if v is None:
            return v
        lo, hi = (check_number(float(x), "range bound") for x in v)
        if lo > hi:
            raise ValueError(f"range [{lo:g}, {hi:g}] has its lower bound above its upper bound")
        return (lo, hi)

    @model_validator(mode="after")
    def _consistent(self) -> HyperParam:
        given = [k for k, on in (("flag", self.flag is not None), ("env", self.env is not None),
                                 ("positional", self.positional)) if on]
        if len(given) != 1:
            raise ValueError(
                ("it has " + " and ".join(given) + ": " if given else "")
                + "give exactly one of 'flag' (e.g. \"--lr\", or \"--lr=\" for --lr=0.1), "
                "'env' (an environment variable) or 'positional = true'"
            )
        if self.type == "bool" and self.bool_style == "switch" and self.flag and self.flag.endswith("="):
            raise ValueError(f"flag {self.flag!r} joins a value, a switch has none: set bool_style = \"value\"")
        if self.positional and self.default is None:
            raise ValueError("a positional hyperparameter needs a default: it is always passed, "
                             "or the arguments after it would shift")
        if self.distribution == "choice" and not self.values:
            raise ValueError("distribution 'choice' needs a non-empty 'values' list")
        if self.values is not None:
            if not self.values:
                raise ValueError("'values' is empty: list the values the training accepts, or leave it out")
            if self.range is not None and self.distribution != "choice":
                raise ValueError("give 'range' (mutations drawn within it) or 'values' (the only values "
                                 "allowed), not both")
            for v in self.values:
                coerce(self, v)
        if self.distribution == "log_uniform" and self.range is not None and self.range[0] <= 0:
            raise ValueError(f"log_uniform needs a positive lower bound, got {self.range[0]:g}")
        if self.range is not None and self.type not in ("int", "float"):
            raise ValueError(f"'range' only applies to int and float, not {self.type}")
        if self.minimum is not None:
            if self.type not in ("int", "float"):
                raise ValueError(f"'minimum' only applies to int and float, not {self.type}")
            check_number(self.minimum, "minimum")
            if self.range is not None and self.range[0] < self.minimum:
                raise ValueError(f"range [{self.range[0]:g}, {self.range[1]:g}] reaches below minimum {self.minimum:g}")
        if self.path is not None and self.type != "str":
            raise ValueError(f"'path' only applies to str, not {self.type}")
        if self.zero_probability and self.type not in ("int", "float"):
            # a draw of 0 is no value of a bool or str parameter (it was an internal error at plan)
            raise ValueError(f"'zero_probability' only applies to int and float, not {self.type}")
        if self.range is not None and self.type == "int" and math.ceil(self.range[0]) > math.floor(self.range[1]):
            raise ValueError(f"range [{self.range[0]:g}, {self.range[1]:g}] holds no integer to draw")
        if self.decimals is not None and self.type != "float":
            raise ValueError(f"'decimals' only applies to float, not {self.type}")
        if self.default is not None:
            object.__setattr__(self, "default", coerce(self, self.default))
            check_allowed(self, self.default)
        return self

    def allowed(self) -> list[Scalar] | None:
        """The declared `values`, converted to the type; None when any value of the type is allowed."""
        return None if self.values is None else [coerce(self, v) for v in self.values]

    @property
    def mutable(self) -> bool:
        return self.distribution == "choice" or self.range is not None or self.type == "bool"


def _int_text(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def coerce(param: HyperParam, value: Scalar) -> Scalar:
    """Value converted to the parameter's type; ValueError naming the problem otherwise."""
    t = param.type
    if t == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"expected a boolean, got {value!r}")
    if t == "str":
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(f"expected a string, got {value!r}")
        text = value if isinstance(value, str) else str(value)
        if "\0" in text:
            raise ValueError("string values must not contain NUL bytes")
        return text
    if isinstance(value, bool):
        raise ValueError(f"expected {t}, got boolean {value!r}")
    if isinstance(value, str):
        try:
            # an int written "10.0" or "1e3" reads as the number 10.0 or 1000.0 would
            value = float(value) if t == "float" else _int_text(value)
        except ValueError:
            raise ValueError(f"expected {t}, got {value!r}") from None
    if t == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"expected an integer, got {value!r}")
            value = int(value)
        check_number(float(value), "value")
        return int(value)
    check_number(float(value), "value")
    return float(value)


def check_allowed(param: HyperParam, value: Scalar) -> Scalar:
    """`value` converted to the type and checked against the declared `values`; ValueError naming
    the choices (and the closest one) otherwise."""
    typed = coerce(param, value)
    if param.minimum is not None and isinstance(typed, (int, float)) and typed < param.minimum:
        raise ValueError(f"{typed!r} is below the least value the training accepts ({param.minimum:g})")
    allowed = param.allowed()
    if allowed is not None and typed not in allowed:
        choices = ", ".join(map(str, allowed))
        raise ValueError(f"invalid choice {typed!r}{suggest(str(typed), map(str, allowed))}; choose one of {choices}")
    return typed


class LogPattern(_Strict):
    """A regex whose first group is the metric value; `match` picks which occurrence counts."""

    regex: str
    match: Literal["first", "last", "max", "min"] = "last"
    scale: float = 1.0

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            compiled = re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        if compiled.groups < 1:
            raise ValueError(f"regex {v!r} needs a capturing group around the number")
        return v


class PhasePattern(_Strict):
    """A log line that starts a phase (at the line's arrival); a first group, if any, is the epoch."""

    regex: str

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"regex {v!r} does not compile: {exc}") from None
        return v


class MetricsSpec(_Strict):
    """Where the metrics come from: the metrics file (JSON lines) and/or regexes on the log."""

    file: bool = True
    #: results files the training writes itself (JSON, .jsonl, .csv/.tsv), read after it exits;
    #: relative to workdir, with argv's placeholders (but {python}) and glob wildcards
    files: list[str] = Field(default_factory=list)
    patterns: dict[str, LogPattern] = Field(default_factory=dict)
    required: list[str] = Field(default_factory=list)
    goals: dict[str, Literal["max", "min"]] = Field(default_factory=dict)
    #: phase name -> the log line that starts it (for a training that writes no phase events)
    phases: dict[str, PhasePattern] = Field(default_factory=dict)

    @field_validator("files")
    @classmethod
    def _files(cls, v: list[str]) -> list[str]:
        for item in v:
            if not item.strip() or "\0" in item:
                raise ValueError(f"metrics file {item!r} is not a path")
            check_placeholders(item, FILE_PLACEHOLDERS, "metrics file")
        return v

    @field_validator("patterns", "phases", mode="before")
    @classmethod
    def _shorthand(cls, v: object) -> object:
        if isinstance(v, dict):
            return {k: ({"regex": p} if isinstance(p, str) else p) for k, p in v.items()}
        return v

    @field_validator("phases")
    @classmethod
    def _phase_names(cls, v: dict[str, PhasePattern]) -> dict[str, PhasePattern]:
        for name in v:
            if not PHASE_NAME.match(name):
                raise ValueError(f"phase name {name!r} must start with a letter (letters, digits, '_', '-'; "
                                 "e.g. startup, train, evaluation, teardown)")
        return v

    @model_validator(mode="after")
    def _reachable(self) -> MetricsSpec:
        """Without the metrics file, a required metric can only come from a pattern of its name:
        otherwise every attempt would train to the end and then fail."""
        if not self.file and not self.files:
            for name in self.required:
                if name not in self.patterns:
                    known = f"; patterns: {', '.join(sorted(self.patterns))}" if self.patterns else ""
                    raise ValueError(f"required metric {name!r} can never be found: 'file' is false, no 'files', "
                                     f"and no pattern is named {name!r}{suggest(name, self.patterns)}{known}")
        return self


#: Placeholders in `prepare.argv` (the argv's, less {output_dir}: a prepare step belongs to no experiment).
PREPARE_PLACEHOLDERS = ("python", "workdir", "repo", "model")


class PrepareSpec(_Strict):
    """A command run once per session, before the first measured window of the workload (data
    generation, a copy from a cache, compilation): work that is not the training's."""

    argv: list[str] = Field(min_length=1)
    #: hyperparameters passed to it as the training gets them (those the data depends on, e.g. size);
    #: one run per distinct set of their values
    hyperparameters: list[str] = Field(default_factory=list)
    timeout_s: float = Field(default=1800.0, gt=0, le=86_400)

    @field_validator("argv")
    @classmethod
    def _argv(cls, v: list[str]) -> list[str]:
        if not v[0]:
            raise ValueError("argv[0] is empty: it names the program to run")
        for arg in v:
            if "\0" in arg:
                raise ValueError(f"argv item {arg!r} contains a NUL byte, which no command line can carry")
            check_placeholders(arg, PREPARE_PLACEHOLDERS)
        return v


class Workload(_Strict):
    """A trainable target named `repo/model`, fully resolved (no `extends`, absolute workdir)."""

    #: Fields hyperwatt sets (from the table's key and the declaring file), not keys of a table.
    INTERNAL_KEYS: ClassVar[frozenset[str]] = frozenset({"name", "source"})
    #: Keys of a table that are resolved before the model is built.
    TABLE_KEYS: ClassVar[tuple[str, ...]] = ("extends",)
    name: str
    description: str = ""
    argv: list[str] = Field(min_length=1)
    workdir: Path | None = None
    env: dict[str, str] = Field(default_factory=dict)
    hyperparameters: dict[str, HyperParam] = Field(default_factory=dict)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    prepare: PrepareSpec | None = None
    #: Pass every hyperparameter with a default on the command line (False: only values set or mutated).
    pass_defaults: bool = True
    #: exit codes that count as a clean exit (a script that exits 3 after writing its results)
    success_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)
    gpu: bool = True
    # wall time at the default hyperparameters; the part of it that does not scale with the
    # hyperparameter `estimated_scales_with` (None: `epochs`, where the workload has one)
    estimated_duration_s: float | None = Field(default=None, gt=0)
    estimated_startup_s: float = Field(default=0.0, ge=0)
    estimated_scales_with: str | None = None
    min_run_s: float | None = Field(default=None, gt=0)
    gpu_memory_mib: float | None = Field(default=None, gt=0)
    source: str = "builtin"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_workload_name(v)

    @field_validator("hyperparameters")
    @classmethod
    def _param_names(cls, v: dict[str, HyperParam]) -> dict[str, HyperParam]:
        for name in v:
            if not PARAM_NAME.match(name):
                raise ValueError(f"hyperparameter name {name!r} must be an identifier")
        return v

    @field_validator("success_exit_codes")
    @classmethod
    def _exit_codes(cls, v: list[int]) -> list[int]:
        for code in v:
            if not 0 <= code <= 255:
                raise ValueError(f"exit code {code} is not in 0 … 255 (a signal is never a clean exit)")
        return sorted(set(v))

    @field_validator("argv")
    @classmethod
    def _placeholders(cls, v: list[str]) -> list[str]:
        if not v[0]:
            raise ValueError("argv[0] is empty: it names the program to run")
        for arg in v:
            if "\0" in arg:
                raise ValueError(f"argv item {arg!r} contains a NUL byte, which no command line can carry")
            check_placeholders(arg)
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"environment variable name {name!r} must be non-empty, without '=' or NUL")
            if "\0" in value:
                raise ValueError(f"environment variable {name!r}: its value contains a NUL byte")
        return v

    @field_validator("workdir", mode="before")
    @classmethod
    def _workdir(cls, v: object) -> object:
        if isinstance(v, str) and "\0" in v:
            raise ValueError(f"workdir {v!r} contains a NUL byte")
        return v

    @model_validator(mode="after")
    def _scales_with(self) -> Workload:
        name = self.estimated_scales_with
        if name is not None and name not in self.hyperparameters:
            raise ValueError(f"estimated_scales_with: no hyperparameter named {name!r}")
        for name in self.prepare.hyperparameters if self.prepare else []:
            if name not in self.hyperparameters:
                raise ValueError(f"prepare.hyperparameters: no hyperparameter named {name!r}"
                                 f"{suggest(name, self.hyperparameters)}")
        return self

    @property
    def scale_parameter(self) -> str | None:
        """The hyperparameter the duration estimate scales with, if any."""
        if self.estimated_scales_with is not None:
            return self.estimated_scales_with
        return "epochs" if "epochs" in self.hyperparameters else None

    @property
    def repo(self) -> str:
        return self.name.split("/")[0]

    @property
    def model(self) -> str:
        return self.name.split("/")[1]

    def defaults(self) -> dict[str, Scalar]:
        return {k: p.default for k, p in self.hyperparameters.items() if p.default is not None}
