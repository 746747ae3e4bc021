"""The results layout on disk and crash-safe writes (temp file, fsync, rename)."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from hyperwatt.records import ExperimentRecord


class SessionLayout:
    """Paths of one session under the results directory (see DESIGN.md)."""

    def __init__(self, results_dir: Path, session_id: str) -> None:
        self.results_dir = Path(results_dir)
        self.dir = self.results_dir / session_id

    @property
    def plan(self) -> Path:
        return self.dir / "plan.toml"

    @property
    def summary(self) -> Path:
        return self.dir / "summary.csv"

    @property
    def verification(self) -> Path:
        return self.dir / "verification.md"

    @property
    def report(self) -> Path:
        return self.dir / "report.html"

    def experiment(self, experiment_id: str) -> ExperimentLayout:
        return ExperimentLayout(self.dir / experiment_id)


class ExperimentLayout:
    def __init__(self, directory: Path) -> None:
        self.dir = directory

    @property
    def record(self) -> Path:
        return self.dir / "experiment.json"

    def attempt_dir(self, number: int) -> Path:
        return self.dir / f"attempt-{number}"

    def attempt_log(self, number: int) -> Path:
        return self.attempt_dir(number) / "training.log"

    def metrics_file(self, number: int) -> Path:
        return self.attempt_dir(number) / "metrics.jsonl"

    def output_dir(self, number: int) -> Path:
        """The attempt's own empty folder, `{output_dir}` in a workload's argv."""
        return self.attempt_dir(number) / "output"

    @property
    def timeline(self) -> Path:
        return self.dir / "energy" / "timeline.csv"

    @property
    def background_dir(self) -> Path:
        return self.dir / "background"

    def relative(self, path: Path) -> str:
        return str(Path(path).relative_to(self.dir))


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync it, rename over the target, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600; the file gets the mode an ordinary write would give it (the existing
        # file's, else 0666 less the umask), so a shared results folder stays readable to the group
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux shows it (os.umask can only swap)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_experiment_json(path: Path) -> ExperimentRecord:
    """An experiment.json as a record: an older schema is migrated; one from a newer hyperwatt, or a
    file that does not read, is one line naming the file."""
    from pydantic import ValidationError

    from hyperwatt.errors import HyperwattError

    try:
        return ExperimentRecord.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise HyperwattError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise HyperwattError(f"{path}: {where + ': ' if where else ''}{first['msg']}") from None


def write_experiment_json(layout: ExperimentLayout, record: ExperimentRecord) -> None:
    atomic_write_text(layout.record, record.model_dump_json(indent=2) + "\n")  # NaN as "NaN": plain JSON
