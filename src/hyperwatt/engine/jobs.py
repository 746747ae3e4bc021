"""Work shipped as values: a `Job` (the planned experiment, by its place in the resolved plan, and the
slot it needs) and the `JobResult` running it returns (the record and the experiment folder's files).

A job names its experiment by position in the plan as run (`plan.toml`, resolved: every policy and
user workload inlined) plus the setting's key hash, so any node with hyperwatt re-expands exactly the
same experiment, and refuses one that expands differently. Both are plain JSON-able values.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hyperwatt.clock import Clock
from hyperwatt.config import LoadedPlan, Registry, load_plan
from hyperwatt.errors import HyperwattError
from hyperwatt.mutation import PlannedExperiment, expand
from hyperwatt.records import ExperimentRecord

#: the biggest experiment folder a remote job sends back (logs of a chatty training are cut first)
MAX_RESULT_BYTES = 256 * 2**20


@dataclass(frozen=True)
class SlotRequest:
    """What one experiment needs of a node: whole GPUs (parallel mode needs the GPU to itself)."""

    gpus: int = 1

    @classmethod
    def for_experiment(cls, pe: PlannedExperiment, has_gpus: bool) -> SlotRequest:
        return cls(gpus=1 if has_gpus else 0)


@dataclass(frozen=True)
class Job:
    """One experiment to run anywhere."""

    session_id: str
    position: int  # the experiment's place in the plan's expansion (`PlannedExperiment.slot`)
    key_hash: str
    label: str
    plan_toml: str  # the plan as run (LoadedPlan.resolved_toml())
    plan_hash: str
    slot: SlotRequest = field(default_factory=SlotRequest)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "position": self.position,
            "key_hash": self.key_hash,
            "label": self.label,
            "plan_toml": self.plan_toml,
            "plan_hash": self.plan_hash,
            "slot": {"gpus": self.slot.gpus},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        return cls(
            session_id=data["session_id"],
            position=int(data["position"]),
            key_hash=data["key_hash"],
            label=data["label"],
            plan_toml=data["plan_toml"],
            plan_hash=data["plan_hash"],
            slot=SlotRequest(**data.get("slot", {})),
        )

    def resolve(self, workdir: Path) -> tuple[LoadedPlan, PlannedExperiment]:
        """The plan and the planned experiment this job names, re-expanded from its plan text
        (written to `workdir`/plan.toml: relative paths in it resolve as in the session's folder)."""
        path = workdir / "plan.toml"
        path.write_text(self.plan_toml)
        loaded = load_plan(path, Registry.builtin())
        planned = expand(loaded).experiments
        if self.position >= len(planned) or planned[self.position].key_hash != self.key_hash:
            raise HyperwattError(
                f"job {self.label!r} (experiment {self.position + 1} of session {self.session_id}) "
                "does not expand to the same setting here: is hyperwatt the same version "
                "on every node?"
            )
        return loaded, planned[self.position]


def jobs_for(
    loaded: LoadedPlan, session_id: str, pending: list[PlannedExperiment], has_gpus: bool, plan_toml: str | None = None
) -> list[Job]:
    """The jobs of a session's pending experiments, in plan order."""
    text = plan_toml if plan_toml is not None else loaded.resolved_toml()
    return [
        Job(
            session_id=session_id,
            position=pe.slot,
            key_hash=pe.key_hash,
            label=pe.label,
            plan_toml=text,
            plan_hash=loaded.plan_hash,
            slot=SlotRequest.for_experiment(pe, has_gpus),
        )
        for pe in pending
    ]


@dataclass
class JobResult:
    """What running a job gives back. `files` (path relative to the experiment folder -> content)
    is empty when the job ran where the driver's results folder is (a local slot)."""

    position: int
    record: ExperimentRecord
    files: dict[str, bytes] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "record": self.record.model_dump(mode="json"),
            "files": {k: base64.b64encode(v).decode() for k, v in self.files.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobResult:
        return cls(
            position=int(data["position"]),
            record=ExperimentRecord.model_validate(data["record"]),
            files={k: base64.b64decode(v) for k, v in data.get("files", {}).items()},
        )


def collect_files(folder: Path, limit_bytes: int = MAX_RESULT_BYTES) -> dict[str, bytes]:
    """Every file of an experiment folder, by relative path; the largest are left out (named in
    a `MISSING.txt`) once the total would pass `limit_bytes`."""
    paths = sorted((p for p in folder.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    files: dict[str, bytes] = {}
    left_out: list[str] = []
    total = 0
    for path in paths:
        size = path.stat().st_size
        rel = path.relative_to(folder).as_posix()
        if total + size > limit_bytes:
            left_out.append(f"{rel} ({size} bytes)")
            continue
        files[rel] = path.read_bytes()
        total += size
    if left_out:
        files["MISSING.txt"] = (
            "left on the node (the result passed the size limit):\n" + "\n".join(left_out) + "\n"
        ).encode()
    return files


def place_files(folder: Path, files: dict[str, bytes]) -> None:
    """Write a job's files under the driver's experiment folder (never outside it)."""
    root = folder.resolve()
    for rel, data in files.items():
        target = (root / rel).resolve()
        if root not in target.parents:
            raise HyperwattError(f"a job result names a file outside its experiment folder: {rel!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def lost_record(
    pe: PlannedExperiment, session_id: str, plan_hash: str, experiment_id: str, reason: str, clock: Clock
) -> ExperimentRecord:
    """The record of an experiment whose node or task failed after every retry."""
    now = clock.time()
    return ExperimentRecord(
        experiment_id=experiment_id,
        session_id=session_id,
        slot=pe.slot,
        label=pe.label,
        workload=pe.workload.name,
        mode=pe.mode,
        status="failed",
        status_reason=reason,
        key=pe.key,
        key_hash=pe.key_hash,
        repeat_index=pe.repeat_index,
        mutated=list(pe.mutated),
        hyperparameters=pe.foreground.typed(),
        hyperparameter_args=pe.foreground.args(),
        started_wall=now,
        ended_wall=now,
        plan_hash=plan_hash,
    )
