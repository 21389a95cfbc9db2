"""Task cards: the validated description of a task (``tasks/<name>.yaml``).

A card fixes everything needed to regenerate a task bit for bit: the graph,
the system's parameters, the integrator, the windows, the node and time splits,
the noise level, the seed and a version. Unknown keys and out-of-range values
are rejected with the field named. ``tasks/README.md`` documents every field.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from roma_bench.config import ConfigError, StrictModel, load_yaml, validate
from roma_bench.dynamics.params import KuramotoParams, SocialParams
from roma_bench.errors import RegistryError
from roma_bench.graphs.hyperbolic import validate_hyperbolic_args
from roma_bench.limits import NODES_MAX, SEED_MAX, STEPS_MAX
from roma_bench.metric_names import PAPER_METRICS, metric_names


class GraphCard(StrictModel):
    """Hyperbolic random graph (NetworKit), largest connected component of ``nodes`` nodes."""

    nodes: int = Field(
        gt=0, le=NODES_MAX, description="nodes of the final graph (after keeping the LCC)"
    )
    avg_degree: float = Field(3.0, gt=0)
    gamma: float = Field(3.0, ge=2.01, description="power-law exponent of the degree distribution")
    temperature: float = Field(0.0, ge=0, lt=1)
    seed: int = Field(0, ge=0, lt=SEED_MAX)

    @model_validator(mode="after")
    def _generator_can_satisfy(self) -> GraphCard:
        """Refuse what the generator cannot build (e.g. ``avg_degree ≥ nodes − 1``)."""

        validate_hyperbolic_args(self.nodes, self.avg_degree, self.gamma, self.temperature)
        return self


class SimulationCard(StrictModel):
    """Fixed-step RK4: ``steps`` steps of ``dt``, one frame saved every ``save_every`` steps."""

    dt: float = Field(gt=0)
    steps: int = Field(gt=0, le=STEPS_MAX)
    save_every: int = Field(1, ge=1, le=STEPS_MAX)
    seed: int = Field(0, ge=0, lt=SEED_MAX)

    @property
    def frames(self) -> int:
        """Saved frames, including the initial state: ``steps // save_every + 1``."""
        return self.steps // self.save_every + 1

    @property
    def frame_dt(self) -> float:
        return self.dt * self.save_every


class WindowCard(StrictModel):
    """Lookback κ frames in, horizon H frames out; rollout R frames for rollout metrics.

    Evaluation uses ``eval_windows`` evenly spaced window starts in the val/test time range.
    """

    lookback: int = Field(gt=0, description="κ, history frames given to a model")
    horizon: int = Field(1, gt=0, description="H, frames a model predicts in one call")
    rollout: int = Field(16, gt=0, description="R ≥ H, clean future frames of evaluation windows")
    eval_windows: int = Field(8, gt=0, description="window starts per val/test split")

    @model_validator(mode="after")
    def _rollout_covers_horizon(self) -> WindowCard:
        if self.rollout < self.horizon:
            raise ValueError(f"rollout ({self.rollout}) must be ≥ horizon ({self.horizon})")
        return self


class SplitCard(StrictModel):
    """Held-out node subgraphs (never in training) and the time split (train | val | test)."""

    val_nodes: int = Field(gt=0, le=NODES_MAX, description="nodes in the validation subgraph")
    test_nodes: int = Field(gt=0, le=NODES_MAX, description="nodes in the held-out test subgraph")
    train_fraction: float = Field(0.7, gt=0, lt=1, description="first part of the frames")
    val_fraction: float = Field(0.1, ge=0, lt=1, description="then this part; the rest is test")
    seed: int = Field(0, ge=0, lt=SEED_MAX)

    @model_validator(mode="after")
    def _fractions(self) -> SplitCard:
        if self.train_fraction + self.val_fraction >= 1:
            raise ValueError("train_fraction + val_fraction must leave a test range (< 1)")
        return self

    def frame_ranges(self, frames: int) -> dict[str, tuple[int, int]]:
        """Half-open frame ranges ``{'train': (0, a), 'val': (a, b), 'test': (b, frames)}``.

        ``a = floor(train_fraction·frames)``, ``b = floor((train_fraction + val_fraction)·frames)``.
        Training windows (history and targets) lie inside ``train``; an evaluation window's
        targets and future frames lie inside its range, its history may reach back before it.
        """
        a = int(self.train_fraction * frames)
        b = int((self.train_fraction + self.val_fraction) * frames)
        return {"train": (0, a), "val": (a, b), "test": (b, frames)}


class BatchCard(StrictModel):
    """Random-walk (GraphSAINT-style) subgraphs of about ``nodes`` nodes."""

    nodes: int = Field(512, gt=0, le=NODES_MAX)
    walk_length: int = Field(16, gt=0)


class EncodingCard(StrictModel):
    """Positional encodings computed per subgraph: Laplacian eigenvectors and random-walk.

    ``laplacian_scope``: ``graph`` (the v2 cards) takes the eigenvectors of the whole
    subgraph's Laplacian; ``component`` those of each connected component's, which on a
    training subgraph of many components are its components' low-frequency modes instead
    of an arbitrary basis of the zero eigenspace (see :mod:`roma_bench.graphs.encodings`).
    """

    laplacian: int = Field(8, ge=0)
    random_walk: int = Field(8, ge=0)
    laplacian_scope: Literal["graph", "component"] = "graph"


class CoarseCard(StrictModel):
    """Coarse partition for the effective task: communities (PLM) or METIS parts."""

    method: Literal["community", "metis"] = "community"
    parts: int = Field(64, gt=0, description="number of METIS parts (ignored for communities)")


def _known_metric_names(system: str | None = None) -> tuple[str, ...]:
    """Scores the evaluator reports (for ``system``, or for any system when ``None``)."""
    systems = ("kuramoto", "social") if system is None else (system,)
    return tuple(dict.fromkeys(name for s in systems for name in metric_names(s)))


#: The primary metrics a card gets when its ``metrics`` section is left out (offset-free).
DEFAULT_PRIMARY_METRICS = {
    "kuramoto": {"forecast": "delta_nrmse", "effective": "coarse_error"},
    "social": {"forecast": "nrmse", "effective": "coarse_error"},
}


class PrimaryMetricsCard(StrictModel):
    """The metric a leaderboard ranks by, per learning task (lower is better).

    A name from :func:`roma_bench.metric_names.metric_names` of the card's system, and
    invariant to an arbitrary offset of the field (Kuramoto: ``delta_nrmse``, the nRMSE of
    the predicted change; social: ``nrmse``). The paper's sMSPE is reported beside it but
    cannot rank (it changes when a phase is shifted by 2π).
    """

    forecast: str = Field(description="primary metric of the forecast task")
    effective: str = Field(description="primary metric of the effective (coarse) task")

    @field_validator("forecast", "effective")
    @classmethod
    def _known_metric(cls, name: str) -> str:
        known = _known_metric_names()
        if name not in known:
            raise ValueError(f"unknown metric {name!r}; known: {', '.join(known)}")
        if name in PAPER_METRICS:
            raise ValueError(
                f"{name!r} is the ROMA paper's metric, shown beside the primary but never "
                "ranking (it is not invariant to a 2π shift of a phase)"
            )
        return name


class MetricsCard(StrictModel):
    """How results on this task are ranked: ``primary.forecast`` and ``primary.effective``."""

    primary: PrimaryMetricsCard


class BudgetCard(StrictModel):
    """The standard training budget of this task: every board's learned models train with it.

    ``steps`` optimizer steps, peak learning rate ``lr`` (the default when a board has no
    tuning file, see :mod:`roma_bench.budgets`), linear warm-up over ``warmup_steps``, then
    cosine decay. ``chosen_by`` says how it was chosen (the doubling check's CSV), so the
    number in the card can be traced to the runs behind it. ``tuned_at``: the steps of the
    learning-rate sweep whose chosen rates the boards train with (default ``steps``; a
    sweep at the full budget can cost more than the board itself).
    """

    steps: int = Field(gt=0, le=STEPS_MAX)
    lr: float = Field(1e-3, gt=0, le=1)
    warmup_steps: int = Field(20, ge=0, le=STEPS_MAX)
    chosen_by: str = Field("", description="how the budget was chosen (file of the check)")
    tuned_at: int | None = Field(None, gt=0, le=STEPS_MAX,
                                 description="steps of the learning-rate sweep (default: steps)")  # fmt: skip

    @property
    def tuning_steps(self) -> int:
        """The budget of the learning-rate sweep the boards take their rates from."""
        return self.tuned_at or self.steps

    @model_validator(mode="after")
    def _warmup_inside(self) -> BudgetCard:
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps {self.warmup_steps} must be below steps {self.steps}")
        return self


class TaskCard(StrictModel):
    """One task: graph + system + integrator + windows + splits + noise."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(min_length=1)
    description: str = ""
    system: Literal["kuramoto", "social"]
    graph: GraphCard
    kuramoto: KuramotoParams | None = None
    social: SocialParams | None = None
    simulation: SimulationCard
    window: WindowCard
    split: SplitCard
    batch: BatchCard = BatchCard()
    encodings: EncodingCard = EncodingCard()
    coarse: CoarseCard = CoarseCard()
    noise: float = Field(
        0.0,
        ge=0,
        le=1,
        description="σ, std of the training noise: θ + σξ on phases, u·exp(σξ) on activity",
    )
    budget: BudgetCard | None = Field(
        None, description="standard training budget of the boards (not part of the data)"
    )
    metrics: MetricsCard | None = Field(
        None, description="ranking metrics; default: the system's offset-free ones"
    )

    @model_validator(mode="after")
    def _system_section(self) -> TaskCard:
        if self.system == "kuramoto":
            if self.social is not None:
                raise ValueError("a kuramoto card must not have a 'social' section")
            if self.kuramoto is None:
                self.__dict__["kuramoto"] = KuramotoParams()
        else:
            if self.kuramoto is not None:
                raise ValueError("a social card must not have a 'kuramoto' section")
            if self.social is None:
                self.__dict__["social"] = SocialParams()
        self._check_metrics()
        self._check_splits()
        return self

    def _check_metrics(self) -> None:
        """Fill in the system's default primary metrics; each must be scored for the system."""
        if self.metrics is None:
            primary = PrimaryMetricsCard(**DEFAULT_PRIMARY_METRICS[self.system])
            self.__dict__["metrics"] = MetricsCard(primary=primary)
        known = _known_metric_names(self.system)
        for learning_task in ("forecast", "effective"):
            name = getattr(self.metrics.primary, learning_task)
            if name not in known:
                raise ValueError(
                    f"metrics.primary.{learning_task}: metric {name!r} is not scored on a "
                    f"{self.system} task; known: {', '.join(known)}"
                )

    def primary_metric(self, learning_task: str) -> str:
        """The metric this task ranks ``learning_task`` (``forecast``/``effective``) by."""
        if learning_task not in ("forecast", "effective"):
            raise ValueError(
                f"unknown learning task {learning_task!r}; expected 'forecast' or 'effective'"
            )
        return str(getattr(self.metrics.primary, learning_task))

    def _check_splits(self) -> None:
        """Every split must hold at least one window, and training must keep enough nodes."""
        frames = self.simulation.frames
        window = self.window
        ranges = self.split.frame_ranges(frames)
        train_len = ranges["train"][1] - ranges["train"][0]
        if train_len < window.lookback + window.horizon:
            raise ValueError(
                f"split.train_fraction: the train range has {train_len} of {frames} frames, fewer "
                f"than window.lookback + window.horizon = {window.lookback + window.horizon}"
            )
        for name, field in (("val", "val_fraction"), ("test", "train_fraction + val_fraction")):
            start, stop = ranges[name]
            if stop - start < window.rollout:
                raise ValueError(
                    f"split.{field}: the {name} range has {stop - start} of {frames} frames, "
                    f"fewer than window.rollout = {window.rollout}"
                )
        held_out = self.split.val_nodes + self.split.test_nodes
        if self.graph.nodes - held_out < self.batch.nodes:
            raise ValueError(
                f"split.val_nodes + split.test_nodes = {held_out} leaves "
                f"{self.graph.nodes - held_out} training nodes of graph.nodes = {self.graph.nodes},"
                f" fewer than batch.nodes = {self.batch.nodes}"
            )

    @property
    def frame_ranges(self) -> dict[str, tuple[int, int]]:
        """Half-open ``train``/``val``/``test`` frame ranges (see :meth:`SplitCard.frame_ranges`)."""
        return self.split.frame_ranges(self.simulation.frames)

    def resolved(self) -> dict:
        """The card with every default filled in, as plain JSON-able data (stored with the data).

        ``budget`` is left out: it says how boards train, not what the data is, so choosing
        a budget never makes a store stale. ``encodings.laplacian_scope`` is left out at its
        default (``graph``): the field is newer than the v2 stores, whose checksums cover
        the card as it was.
        """
        exclude: dict[str, Any] = {"budget": True}
        if self.encodings.laplacian_scope == "graph":
            exclude["encodings"] = {"laplacian_scope"}
        return self.model_dump(mode="json", exclude=exclude)


def task_dirs() -> list[Path]:
    """Folders searched for task cards, highest precedence first."""
    dirs = [Path(p) for p in os.environ.get("ROMA_BENCH_TASKS", "").split(os.pathsep) if p]
    dirs.append(Path(__file__).resolve().parents[1] / "tasks")
    dirs.append(Path(sys.prefix) / "share" / "roma-bench" / "tasks")
    return dirs


def available_tasks() -> list[str]:
    """Sorted names of every task card (file stem of ``tasks/<name>.yaml``)."""
    names: set[str] = set()
    for folder in task_dirs():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.yaml"))
    return sorted(names)


def task_card_path(name: str) -> Path:
    """Path of the card for task ``name`` (or ``name`` itself if it is a YAML file path)."""
    as_path = Path(name)
    if as_path.suffix in {".yaml", ".yml"} and as_path.is_file():
        return as_path
    for folder in task_dirs():
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = ", ".join(available_tasks()) or "(none)"
    raise RegistryError(f"unknown task {name!r}; known tasks: {known}")


def load_card(name_or_path: str | Path) -> TaskCard:
    """Load and validate a task card by name (``km-tiny``) or path; errors name the field and file."""
    path = task_card_path(str(name_or_path))
    data = load_yaml(path)
    card = validate(TaskCard, data, str(path))
    if card.name != path.stem and Path(str(name_or_path)).suffix not in {".yaml", ".yml"}:
        raise ConfigError(f"{path}: name {card.name!r} does not match the file name {path.stem!r}")
    return card
