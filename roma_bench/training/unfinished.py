"""Continue an interrupted training of a multi-run command instead of starting it over.

Boards, studies and budget checks resume at the level of runs: a rerun skips every run
whose result is recorded. A run that was cut off halfway (a killed process, a session
that ended, a crash of the host) would otherwise start again from step 0 — hours lost
for a long run. Such runs are *resumable* (:class:`~roma_bench.training.runs.TrainingJob`
``resumable``): while one trains, ``<runs>/unfinished/<key>.json`` names its run folder,
``key`` a digest of its configuration and tracking store (:func:`resume_key`). The entry is
removed when the run ends (finished or diverged); a killed run leaves it, and the next
training of the same configuration into the same store continues that folder and MLflow
run from its last checkpoint (``last.safetensors``, every ``checkpoint_every`` steps). As
every batch and every RNG draw is a function of ``(seed, step)``, it ends with the weights
an uninterrupted run would have (:mod:`roma_bench.training.fit`).

The entry also records the code commit that started the run. A run continued with other
code ends with weights no single commit would give: it says so on stderr, and its MLflow run
keeps the commit that started it in tag ``roma.started_at_commit`` (its ``git_commit`` tag
names the code that finished it).

``roma-bench info`` lists the unfinished runs of the runs folder (:func:`unfinished_runs`).

While a run trains, its process holds the entry's file lock (:mod:`roma_bench.locks`), so
two processes never continue the same folder: a second process training the same
configuration at the same time trains a run of its own, neither resuming nor registering.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from roma_bench.checkpoint_format import CheckpointError
from roma_bench.files import atomic_write_text
from roma_bench.locks import LockTimeoutError, file_lock, is_locked
from roma_bench.paths import runs_dir
from roma_bench.tracking.environment import git_commit
from roma_bench.training.checkpointing import STATE_FILE, read_checkpoint_extra
from roma_bench.training.config import TrainConfig
from roma_bench.training.run_record import RUN_FILE, resume_config_of, resume_run_id_of

#: Sub-folder of the runs folder holding one entry per unfinished resumable run.
UNFINISHED_DIR = "unfinished"
#: How long a claim waits for an entry's lock before it concludes that another process is
#: training the same configuration.
CLAIM_WAIT_SECONDS = 2.0


def resume_key(config: TrainConfig, tracking_uri: str | None) -> str:
    """``sha256(config as sorted JSON, tracking URI)``, 24 hex digits: the runs that may
    continue each other (an MLflow run can only be reopened in its own store)."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True) + f"\n{tracking_uri}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class Claim:
    """The right to train one configuration: ``folder`` is the interrupted run to continue
    (None: start a new run, then :meth:`register` its folder), ``commit`` the code commit
    that started it ("" when the entry does not say)."""

    entry: Path
    folder: Path | None
    commit: str = ""

    def register(self, out_dir: Path) -> None:
        """Name ``out_dir`` as this configuration's unfinished run, with the commit that
        started it (atomically)."""
        record = {"out_dir": str(Path(out_dir).resolve()), "commit": self.commit or git_commit()}
        atomic_write_text(self.entry, json.dumps(record))

    def release(self) -> None:
        """The run ended (finished or failed): nothing left to continue."""
        self.entry.unlink(missing_ok=True)


def _interrupted(entry: Path) -> tuple[Path | None, str]:
    """``(folder, commit)`` of ``entry`` when its folder still holds a run to continue (its
    ``run.json`` or training state), else ``(None, "")`` (no entry, a damaged one, or the
    folder was deleted)."""
    try:
        record = json.loads(entry.read_text())
        folder, commit = Path(record["out_dir"]), str(record.get("commit", ""))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, ""
    if (folder / STATE_FILE).is_file() or (folder / RUN_FILE).is_file():
        return folder, commit
    return None, ""


def reopenable(folder: Path, tracking_uri: str) -> bool:
    """True when ``folder``'s MLflow run is in the store at ``tracking_uri`` (resolved, as
    :func:`claim`'s) and not deleted (it can be continued); else a warning, and the
    configuration trains as a new run."""
    from mlflow import MlflowClient

    try:
        run = MlflowClient(tracking_uri).get_run(resume_run_id_of(folder))
        if run.info.lifecycle_stage == "deleted":
            raise LookupError(f"its MLflow run {run.info.run_id} was deleted")
        return True
    except Exception as err:  # no such run, a damaged run.json or state: start over
        print(f"warning: not continuing the interrupted run in {folder} ({err}); "
              "training it again from step 0", file=sys.stderr)  # fmt: skip
        return False


@contextmanager
def claim(
    config: TrainConfig, tracking_uri: str | None, root: Path | None = None
) -> Iterator[Claim | None]:
    """Hold the lock of ``config``'s entry under ``root`` (default: the runs folder) for the
    block and yield its :class:`Claim`; yield None when another process holds it for
    :data:`CLAIM_WAIT_SECONDS` (it is training the same configuration right now)."""
    entry = (root or runs_dir()) / UNFINISHED_DIR / f"{resume_key(config, tracking_uri)}.json"
    with ExitStack() as stack:
        try:
            # a short wait: `roma-bench info` takes the lock for an instant to see if it is held
            stack.enter_context(file_lock(entry, timeout=CLAIM_WAIT_SECONDS))
        except LockTimeoutError:
            yield None
            return
        yield Claim(entry, *_interrupted(entry))


@dataclass(frozen=True)
class UnfinishedRun:
    """A run a rerun of its command would continue: its folder, what it trains, the step
    of its last checkpoint (0: none yet) and whether a process is training it now."""

    folder: Path
    model: str
    task: str
    seed: int
    steps: int
    step: int
    commit: str
    training_now: bool

    def describe(self) -> str:
        state = "training now" if self.training_now else "interrupted"
        return (f"{self.model} on {self.task} seed {self.seed}: step {self.step} of "
                f"{self.steps}, {state} ({self.folder})")  # fmt: skip


def unfinished_runs(root: Path | None = None) -> list[UnfinishedRun]:
    """Every entry of ``root`` (default: the runs folder) whose folder still holds a run,
    in entry order; a folder whose files cannot be read is left out."""
    runs = []
    for entry in sorted(((root or runs_dir()) / UNFINISHED_DIR).glob("*.json")):
        folder, commit = _interrupted(entry)
        if folder is None:
            continue
        try:
            config, _ = resume_config_of(folder)
            state = folder / STATE_FILE
            step = int(read_checkpoint_extra(state)["step"]) if state.is_file() else 0
            runs.append(UnfinishedRun(
                folder, str(config["model_name"]), str(config["task"]), int(config["seed"]),
                int(config["steps"]), step, commit, is_locked(entry),
            ))  # fmt: skip
        except (CheckpointError, KeyError, TypeError, ValueError):
            continue
    return runs
