"""Records of what ran: the schema of experiment.json and of the store's rows.

Shared by engine (writes them), store (persists them), verify and analysis (read them).
Energy that could not be measured is `None` with a reason — never 0. A non-finite number (a
training's NaN loss) is written as the JSON string "NaN", "Infinity" or "-Infinity" and reads back
as the float; a metric stored as `null` by an older hyperwatt reads back as NaN.

Every record carries `schema_version`. A reader refuses a record from a newer hyperwatt (one line:
which version wrote it, which this one reads) and migrates an older one (`migrate`); history:
1 — the first; 2 — `imported` (a session brought in from the seed system) and `energy.gpu_method`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

SCHEMA_VERSION = 2
#: The energy reason of a record whose experiment is still running; a finished record says why instead.
ENERGY_PENDING = "not measured yet"
Status = Literal["pending", "running", "succeeded", "failed", "invalid", "interrupted", "skipped"]
FINAL_STATUSES = ("succeeded", "failed", "invalid", "interrupted")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="strings")


#: A metric value: any float, NaN and infinities included (`null`, as older versions wrote NaN, is NaN).
Metric = Annotated[float, BeforeValidator(lambda v: math.nan if v is None else v)]


class Attempt(_Record):
    number: int
    argv: list[str]
    cwd: str
    log: str  # relative to the experiment directory
    started_wall: float
    ended_wall: float | None = None
    duration_s: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    interrupted: bool = False
    cpu_time_s: float | None = None  # CPU seconds of the whole tree (the kernel's accounting at the reap)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    metric_matches: dict[str, int] = Field(default_factory=dict)
    missing_metrics: list[str] = Field(default_factory=list)
    metric_problems: list[str] = Field(default_factory=list)
    error: str | None = None
    succeeded: bool = False
    #: processes the training left behind when its main process exited (killed by us)
    orphans: list[str] = Field(default_factory=list)
    #: output bytes left out of training.log by its size cap (timing.max_log_mib)
    log_cut_bytes: int = 0
    #: why training.log stopped being written (a full disk), if it did
    log_error: str | None = None


class SensorEnergy(_Record):
    sensor: str
    domain: str
    method: str
    device: str = ""
    energy_j: float | None
    uncertainty_j: float | None = None
    net_energy_j: float | None = None
    idle_power_w: float | None = None
    mean_power_w: float | None = None
    peak_power_w: float | None = None
    duration_s: float
    sample_count: int = 0
    achieved_rate_hz: float | None = None
    update_period_s: float | None = None
    gap_count: int = 0
    max_gap_s: float | None = None
    partial: bool = False
    reason: str | None = None


class Attribution(_Record):
    """Parallel mode: how the device's energy splits between foreground and background, by each
    rule of docs/measurement.md ("Attribution"), each with its bound where one is known."""

    device_energy_j: float | None
    device_uncertainty_j: float | None = None
    #: the background's mean power measured alone (`background.alone`), its counter bound and how far
    #: its mean over a stretch as long as this window strayed within the alone window
    background_alone_power_w: float | None
    background_alone_uncertainty_w: float | None = None
    background_alone_spread_w: float | None = None
    background_alone_source: str
    #: the marginal's allowance for the background drawing differently while it shares the GPU, in %
    #: of its alone power (`parallel.interference_pct`; None in records written before it existed)
    background_interference_pct: float | None = None
    foreground_marginal_energy_j: float | None
    foreground_marginal_uncertainty_j: float | None = None
    #: "above 0", "not distinguishable from 0" or "outside physical limits" (a `marginal_out_of_range` flag)
    foreground_marginal_verdict: str | None = None
    #: why there is no marginal figure (no alone window, no GPU energy)
    marginal_reason: str | None = None
    foreground_util_share: float | None
    foreground_util_share_energy_j: float | None
    note: str = ""


class Energy(_Record):
    available: bool
    reason: str | None = None
    window_start_wall: float | None = None
    window_end_wall: float | None = None
    duration_s: float | None = None
    gpu_energy_j: float | None = None
    gpu_uncertainty_j: float | None = None
    gpu_net_energy_j: float | None = None
    cpu_energy_j: float | None = None
    cpu_uncertainty_j: float | None = None
    cpu_method: str | None = None
    #: how the GPU energy was obtained, e.g. `nvidia-smi-1hz-sum` for the seed's imported runs
    gpu_method: str | None = None
    dram_energy_j: float | None = None
    total_energy_j: float | None = None
    partial: bool = False
    sensors: list[SensorEnergy] = Field(default_factory=list)
    idle_baseline: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attribution: Attribution | None = None
    timeline: str | None = None
    unavailable_sensors: dict[str, str] = Field(default_factory=dict)
    #: the monitor's sampler thread had died by the window's end (its error)
    sampler_error: str | None = None

    @property
    def gpu_window_s(self) -> float | None:
        """The window the GPU counter measured (monotonic), else the wall-clock span written beside it."""
        return next((s.duration_s for s in self.sensors if s.domain == "gpu" and s.energy_j is not None),
                    self.duration_s)


class PhaseSensorEnergy(_Record):
    sensor: str
    energy_j: float | None
    uncertainty_j: float | None = None


class PhaseEnergy(_Record):
    """Energy and duration of one phase of the window (one slice, or a phase's slices together)."""

    phase: str  # startup | train | evaluation | teardown | a training's own name | window (no markers)
    epoch: int | None = None
    start_s: float  # from the window start
    duration_s: float
    samples: int | None = None  # training samples processed (where the training said)
    gpu_energy_j: float | None = None
    gpu_uncertainty_j: float | None = None
    gpu_net_energy_j: float | None = None
    cpu_energy_j: float | None = None
    cpu_uncertainty_j: float | None = None
    total_energy_j: float | None = None
    partial: bool = False
    reason: str | None = None
    sensors: list[PhaseSensorEnergy] = Field(default_factory=list)


class PhaseMarker(_Record):
    phase: str
    t_wall: float
    epoch: int | None = None
    samples: int | None = None
    source: str  # "metrics-file" | "log"


class Phases(_Record):
    """The window split at the training's phase markers (engine/phases.py; docs/measurement.md).

    `slices` cover the window in time order and add up to it; `totals` hold each phase's slices
    together (one bound for contiguous slices). Without markers, `marked` is False, `reason` says
    why, and the one slice is the whole window (phase "window").
    """

    marked: bool
    source: str | None = None
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)
    markers: list[PhaseMarker] = Field(default_factory=list)
    slices: list[PhaseEnergy] = Field(default_factory=list)
    totals: list[PhaseEnergy] = Field(default_factory=list)
    train_epochs: int | None = None
    train_samples: int | None = None

    def total(self, phase: str) -> PhaseEnergy | None:
        return next((t for t in self.totals if t.phase == phase), None)


class BackgroundRunRecord(_Record):
    index: int
    started_wall: float
    ended_wall: float | None
    duration_s: float | None
    exit_code: int | None
    log: str
    stopped_by_us: bool
    effective: bool
    #: processes the run left behind when it exited (killed by its guard)
    orphans: list[str] = Field(default_factory=list)


class Readiness(_Record):
    ready: bool
    waited_s: float
    reason: str
    gpu_util_pct: float | None = None
    background_alone_power_w: float | None = None
    #: the highest GPU utilisation seen while waiting (with the background's process on the GPU)
    max_gpu_util_pct: float | None = None
    #: how long each background run that ended while waiting lasted
    run_durations_s: list[float] = Field(default_factory=list)


class BackgroundAlone(_Record):
    """The background measured alone on the GPU, after the readiness gate and before the foreground."""

    started_wall: float
    duration_s: float
    energy_j: float | None = None
    energy_uncertainty_j: float | None = None
    power_w: float | None = None
    power_uncertainty_w: float | None = None  # the counter's bound on the mean power
    sample_count: int = 0
    restarts: int = 0  # background runs that started inside the window
    reason: str | None = None  # why power_w is None


class StopRecord(_Record):
    latency_s: float  # from the stop request until the background's last process was gone
    escalated: bool  # SIGKILL was needed
    survivors: list[int] = Field(default_factory=list)
    # from the foreground's exit until the background's last process was gone (None: no foreground ran)
    after_foreground_s: float | None = None

    @property
    def delay_s(self) -> float:
        """How long the background outlived the foreground (the stop's own latency if none ran)."""
        return self.after_foreground_s if self.after_foreground_s is not None else self.latency_s


class BackgroundRecord(_Record):
    workload: str
    hyperparameters: dict[str, Any]
    argv: list[str]
    runs: list[BackgroundRunRecord] = Field(default_factory=list)
    effective: bool = False
    ineffective_reason: str | None = None
    readiness: Readiness | None = None
    alone: BackgroundAlone | None = None
    stop: StopRecord | None = None
    coverage: float | None = None
    gpu_util_share: float | None = None
    mean_gpu_util_pct: float | None = None


class Flag(_Record):
    code: str
    severity: Literal["error", "warning"]
    message: str
    fix: str = ""


class Cooldown(_Record):
    duration_s: float
    reached: bool
    reason: str


class Imported(_Record):
    """Where an imported experiment came from, with the seed's own text of every value."""

    #: the source file (raw_data.csv, summary_all.csv) or run folder's experiment.json
    source: str
    #: line of the CSV row (1 = header), or 0 for an experiment.json
    line: int = 0
    system: str = "seed"
    seed_experiment_id: str
    seed_timestamp: str
    #: the seed's repository and model names as written (Person_reID_baseline_pytorch, not ours)
    seed_repository: str
    seed_model: str
    seed_background: str | None = None
    #: every non-empty cell of the source row, exactly as written (column -> text)
    columns: dict[str, str] = Field(default_factory=dict)
    #: hyperparameters the row left empty, filled with the workload's default
    defaulted: list[str] = Field(default_factory=list)
    #: what the import noticed (conflicting fg_*/unprefixed cells, suspect values, unknown workload)
    problems: list[str] = Field(default_factory=list)


def migrate(data: Any) -> Any:
    """A stored record (decoded JSON) brought to SCHEMA_VERSION; a newer one is refused."""
    if not isinstance(data, dict):
        return data
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"schema_version must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise ValueError(f"written by a newer hyperwatt (record schema {version}; this one reads up to "
                         f"{SCHEMA_VERSION}): upgrade hyperwatt to read it")
    if version < 2:  # 1 -> 2: only optional fields were added (imported, energy.gpu_method)
        data = {**data, "schema_version": 2}
    return data


class ExperimentRecord(_Record):
    schema_version: int = SCHEMA_VERSION
    experiment_id: str
    session_id: str
    slot: int
    label: str
    workload: str
    mode: Literal["sequential", "parallel"]
    status: Status
    status_reason: str = ""
    key: str
    key_hash: str
    repeat_index: int = 0
    mutated: list[str] = Field(default_factory=list)
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    hyperparameter_args: dict[str, str] = Field(default_factory=dict)
    argv: list[str] = Field(default_factory=list)
    workdir: str = ""
    started_wall: float | None = None
    ended_wall: float | None = None
    duration_s: float | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    metrics: dict[str, Metric] = Field(default_factory=dict)
    energy: Energy = Field(default_factory=lambda: Energy(available=False, reason=ENERGY_PENDING))
    #: the window's energy per phase (None: recorded before phases existed, or not measured)
    phases: Phases | None = None
    background: BackgroundRecord | None = None
    cooldown: Cooldown | None = None
    flags: list[Flag] = Field(default_factory=list)
    leaks: list[str] = Field(default_factory=list)
    #: compute processes not ours seen on the experiment's GPU while it ran ("pid N: command line")
    gpu_shared_with: list[str] = Field(default_factory=list)
    environment: dict[str, Any] = Field(default_factory=dict)
    plan_hash: str = ""
    #: set on an experiment imported from the seed system (not run by hyperwatt)
    imported: Imported | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        return migrate(data)

    @property
    def valid(self) -> bool:
        return self.status == "succeeded" and not any(f.severity == "error" for f in self.flags)


def cpu_only(records: Sequence[ExperimentRecord]) -> bool:
    """Whether the experiments provably ran without a GPU: each one's environment lists no GPU and no
    GPU energy was measured. Reports word themselves by it, so a CPU-only session never claims a GPU
    (a record that does not say, such as an imported one, keeps the GPU wording)."""
    return bool(records) and all(
        "gpus" in r.environment and not r.environment["gpus"] and r.energy.gpu_energy_j is None
        and not any(s.domain == "gpu" and s.energy_j is not None for s in r.energy.sensors) for r in records)
