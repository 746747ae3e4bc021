"""Plans: what to run, how to mutate, and the timing, parallel, preflight and sensor policies."""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from hyperwatt.config.base import StrictModel as _Strict
from hyperwatt.config.workload import Scalar, check_workload_name

Mode = Literal["sequential", "parallel"]
SAFE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


def check_safe_name(value: str) -> str:
    if not SAFE_NAME.match(value) or ".." in value:
        raise ValueError(
            f"{value!r} must be 1-100 ASCII letters, digits, '_', '-' or '.', starting with a letter, digit "
            "or '_', with no spaces, path separators or '..'"
        )
    return value


class CooldownSettings(_Strict):
    """Wait after each experiment until the GPU is back near its idle baseline (bounded)."""

    min_s: float = Field(default=5.0, ge=0, le=86_400)
    max_s: float = Field(default=120.0, ge=0, le=86_400)
    power_tolerance_w: float = Field(default=10.0, ge=0, le=10_000)
    power_tolerance_pct: float = Field(default=10.0, ge=0, le=1_000)
    temp_delta_c: float = Field(default=2.0, ge=0, le=100)
    stable_samples: int = Field(default=5, ge=1, le=10_000)

    @model_validator(mode="after")
    def _order(self) -> CooldownSettings:
        if self.max_s < self.min_s:
            raise ValueError(f"cooldown max_s ({self.max_s:g}) is below min_s ({self.min_s:g})")
        return self


class TimingPolicy(_Strict):
    #: per attempt: seconds, "auto" (from the workload's estimated duration; none without one) or "none"
    timeout_s: Annotated[float, Field(gt=0, le=30 * 86_400)] | Literal["auto", "none"] | None = "auto"
    #: a training's stored log is cut beyond this (its first and last halves kept, the cut said)
    max_log_mib: float | None = Field(default=256.0, gt=0, le=1_048_576)
    retries: int = Field(default=2, ge=0, le=100)
    retry_delay_s: float = Field(default=5.0, ge=0, le=86_400)
    idle_baseline_s: float = Field(default=5.0, ge=0, le=3_600)
    cooldown: CooldownSettings = Field(default_factory=CooldownSettings)

    @field_validator("timeout_s", mode="before")
    @classmethod
    def _timeout_not_boolean(cls, v: object) -> object:
        if isinstance(v, bool):  # the base class's check covers fields that are numbers only
            raise ValueError(f'expected seconds, "auto" or "none", got a boolean ({str(v).lower()})')
        return v


class ParallelPolicy(_Strict):
    """How the background is started, judged ready, kept effective and stopped."""

    readiness_timeout_s: float = Field(default=180.0, gt=0, le=86_400)
    #: with a GPU: stop waiting once this many background runs ended on their own below the threshold
    readiness_runs: int = Field(default=2, ge=1, le=1_000)
    util_threshold_pct: float = Field(default=30.0, ge=0, le=100)
    ready_samples: int = Field(default=20, ge=1, le=10_000)  # polls 0.1 s apart: 2 s of sustained load
    min_run_s: float | None = Field(default=None, gt=0, le=86_400)
    crash_loop_runs: int = Field(default=3, ge=1, le=1_000)
    restart_delay_s: float = Field(default=1.0, ge=0, le=3_600)
    stop_grace_s: float = Field(default=0.05, ge=0, le=600)
    on_ineffective: Literal["abort", "warn"] = "abort"
    min_coverage: float = Field(default=0.99, ge=0, le=1)
    # after the readiness gate, the background is measured alone this long (the marginal rule's
    # background-alone power and its spread); 0: no alone window, no marginal figure
    background_alone_s: float = Field(default=10.0, ge=0, le=3_600)
    # sharing the GPU changes what the background draws (time slicing displaces its work): the
    # marginal's bound allows this share of its alone power; measured on an H200, 0.8-4.2 % over
    # 11 pairs (docs/benchmarks.md, "Attribution"); 0 assumes the background draws as it did alone
    interference_pct: float = Field(default=5.0, ge=0, le=100)


class PreflightPolicy(_Strict):
    gpu_busy: Literal["wait", "abort", "ignore"] = "abort"
    gpu_busy_wait_s: float = Field(default=600.0, ge=0, le=7 * 86_400)
    min_free_disk_mib: float = Field(default=512.0, ge=0)


class SensorSettings(_Strict):
    # at least one round a second: slower, the readiness gate and the window edges starve (1e-300
    # made the sampler's wait overflow; the thread died and the run still "succeeded")
    rate_hz: float = Field(default=20.0, ge=1, le=1_000)
    # between window edges (each edge gets its own lock), how often the sampler re-locks onto the
    # GPU energy counter's update grid; every NVML counter read costs ~3.5 ms of driver time
    lock_interval_s: float = Field(default=10.0, ge=0.5, le=3_600)
    gpus: list[int] | None = None
    cpu_tdp_w: float | None = Field(default=None, gt=0, le=10_000)

    @field_validator("gpus")
    @classmethod
    def _gpus(cls, v: list[int] | None) -> list[int] | None:
        # each GPU is one slot: a GPU listed twice would run two measured experiments on it at once
        if v is not None:
            if any(i < 0 for i in v):
                raise ValueError(f"GPU indices are 0 or more (as nvidia-smi shows them), got {v}")
            dupes = sorted({i for i in v if v.count(i) > 1})
            if dupes:
                raise ValueError(f"GPU listed twice: {', '.join(map(str, dupes))}")
        return v


class CarbonSettings(_Strict):
    """How the report turns energy into emissions (docs/configuration.md); unset keys use env or defaults."""

    intensity_g_per_kwh: float | None = Field(default=None, ge=0, le=5_000)  # grid g CO2e per kWh
    pue: float | None = Field(default=None, ge=1.0, le=5.0)  # data-centre power usage effectiveness
    source: str = ""  # where the intensity comes from, shown in the report


def _listed_once(names: list[str], what: str) -> list[str]:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} listed twice: {', '.join(dupes)}")
    return names


class MutateSpec(_Strict):
    parameters: list[str] = Field(min_length=1)
    strategy: Literal["one_at_a_time", "joint"] = "one_at_a_time"
    mutations: int = Field(default=1, ge=1, le=100_000)

    @field_validator("parameters")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return _listed_once(v, "parameters")


#: Energy quantities (and the duration) a search objective may name, besides the workload's metrics.
ENERGY_QUANTITIES = ("gpu_energy_j", "gpu_net_energy_j", "cpu_energy_j", "dram_energy_j", "total_energy_j",
                     "duration_s")
OBJECTIVE = re.compile(r"^([A-Za-z_][A-Za-z0-9_.\-]*):(min|max)$")
CONSTRAINT = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*(>=|<=)\s*(?:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?"
    r"(default|[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


class SearchSpec(_Strict):
    """An energy-aware search over some hyperparameters (Optuna), beside or instead of `mutate`."""

    parameters: list[str] = Field(min_length=1)
    trials: int = Field(ge=1, le=100_000)
    #: "quantity:min|max": an energy quantity (gpu_energy_j, total_energy_j, ...) or a metric
    objectives: list[str] = Field(default_factory=lambda: ["gpu_energy_j:min"], min_length=1, max_length=8)
    #: tpe | nsga2 | random | grid (None: tpe, multi-objective TPE for several objectives)
    sampler: Literal["tpe", "nsga2", "random", "grid"] | None = None
    #: stop when the energy measured by the search's trainings reaches this (kJ)
    energy_budget_kj: float | None = Field(default=None, gt=0)
    #: "metric >= 0.98 * default", "metric <= 0.5": a trial that breaks one is infeasible
    constraints: list[str] = Field(default_factory=list)
    #: grid only: points per continuous parameter
    grid_points: int = Field(default=5, ge=2, le=1_000)

    @field_validator("parameters")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return _listed_once(v, "parameters")

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, v: list[str]) -> list[str]:
        for o in v:
            if not OBJECTIVE.match(o):
                raise ValueError(f"objective {o!r} must be 'name:min' or 'name:max', e.g. 'gpu_energy_j:min'")
        _listed_once([o.split(":")[0] for o in v], "objective")
        return v

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, v: list[str]) -> list[str]:
        for c in v:
            if not CONSTRAINT.match(c):
                raise ValueError(f"constraint {c!r} must read 'name >= number', 'name <= number' or "
                                 "'name >= factor * default', e.g. 'test_accuracy >= 0.98 * default'")
        return v


def _one_scalar(value: object) -> object:
    """A hyperparameter value is one number, string or boolean (a list read 'not a valid boolean')."""
    if not isinstance(value, (bool, int, float, str)):
        kinds: dict[type, str] = {list: "a list", dict: "a table"}
        kind = kinds.get(type(value), type(value).__name__)
        raise ValueError(f"expected a number, string or boolean, got {kind} ({value!r})")
    return value


HyperValue = Annotated[Scalar, BeforeValidator(_one_scalar)]


class BackgroundSpec(_Strict):
    workload: str
    hyperparameters: dict[str, HyperValue] = Field(default_factory=dict)

    @field_validator("workload")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_workload_name(v)


class ExperimentSpec(_Strict):
    """One entry of a plan; it expands into one or more experiments."""

    workload: str
    name: str | None = None
    mode: Mode = "sequential"
    repeats: int = Field(default=1, ge=1, le=10_000)
    include_default: bool = False
    hyperparameters: dict[str, HyperValue] = Field(default_factory=dict)
    mutate: MutateSpec | None = None
    search: SearchSpec | None = None
    background: BackgroundSpec | None = None
    timing: TimingPolicy | None = None
    note: str = ""

    @field_validator("workload")
    @classmethod
    def _workload(cls, v: str) -> str:
        return check_workload_name(v)

    @field_validator("name")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        return v if v is None else check_safe_name(v)

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        if self.mode == "parallel" and self.background is None:
            raise ValueError("mode 'parallel' needs a 'background' table with a workload")
        if self.mode == "sequential" and self.background is not None:
            raise ValueError("a 'background' only applies to mode 'parallel'")
        if self.search is not None and self.mutate is not None:
            raise ValueError("an entry either mutates or searches: give 'mutate' or 'search', not both")
        if self.search is not None and self.repeats != 1:
            raise ValueError("a search entry runs each trial once; 'repeats' does not apply to it")
        return self


class ExecutionSettings(_Strict):
    """Where the experiments run: local slots (one per GPU) or a Ray cluster (a task per experiment)."""

    executor: Literal["local", "ray"] = "local"
    #: a running cluster ("HOST:PORT" or "ray://HOST:PORT"); none: $RAY_ADDRESS, else a local Ray instance
    ray_address: str | None = Field(default=None, min_length=1, max_length=500)
    #: shipped to every node as Ray's runtime environment `working_dir` (the workloads' code); none:
    #: the nodes already have it (a shared filesystem, or installed)
    working_dir: str | None = Field(default=None, min_length=1, max_length=4096)


class Plan(_Strict):
    #: Keys of the file that are read before the model is built (TOML plans).
    TABLE_KEYS: ClassVar[tuple[str, ...]] = ("workloads",)

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    timing: TimingPolicy = Field(default_factory=TimingPolicy)
    parallel: ParallelPolicy = Field(default_factory=ParallelPolicy)
    preflight: PreflightPolicy = Field(default_factory=PreflightPolicy)
    sensors: SensorSettings = Field(default_factory=SensorSettings)
    governor: str | None = None
    carbon: CarbonSettings = Field(default_factory=CarbonSettings)
    #: Seed-system workloads (models_config.json): "faithful" passes floats as the seed did (`%.6f`);
    #: "intended" passes them exactly. For seed settings files it also decides how `mutate_params`
    #: and fixed values beside a mutation read (docs/migration.md).
    seed_compat: Literal["faithful", "intended"] = "faithful"
    experiments: list[ExperimentSpec] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_safe_name(v)

    @model_validator(mode="before")
    @classmethod
    def _executor_moved(cls, data: Any) -> Any:
        """`executor = "local"` at the top level (plans and plan.toml files written before
        `[execution]`) is read as `[execution] executor`."""
        if isinstance(data, dict) and "executor" in data:
            data = dict(data)
            execution = data.get("execution")
            if execution is not None and not isinstance(execution, dict):
                return data  # the model's own error names it
            data["execution"] = {"executor": data.pop("executor"), **(execution or {})}
        return data

    def timing_for(self, spec: ExperimentSpec) -> TimingPolicy:
        return spec.timing or self.timing
