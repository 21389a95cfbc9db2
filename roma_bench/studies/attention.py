"""The multiscale insight study: what a trained ROMA attends to across scales.

From one held-out batch of a trained ROMA (or a checkpoint):

(a) **attention against hyperbolic distance**: for every fine node ``i`` and first-level
    supernode ``k``, the attention weight fine→coarse ``A[i, n+k]`` and coarse→fine
    ``A[n+k, i]`` (mean over layers and heads of the multiscale transformer) against
    ``d(x_i, m_k)``, the Poincaré distance from the node's embedding ``x_i = exp₀(z_i)`` to
    the supernode, placed at the **assignment-weighted gyromidpoint** of its nodes
    (:func:`gyromidpoint`, weights ``S[:, k]``);
(b) **the learned coarse-graining on a Poincaré-disk layout**: node embeddings mapped to
    the 2-D disk of the same curvature (:func:`disk_layout`), graph edges drawn, nodes
    coloured by their argmax supernode ``argmax_k S[i, k]``, supernodes at their midpoints.

Files: ``attention-<task>.csv`` (one row per (node, supernode)), ``.png`` (the two panels)
and ``.md`` (the command and the numbers the plot shows).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from roma_bench.models.base import load_checkpoint
from roma_bench.models.roma.manifold import PoincareBall
from roma_bench.studies.common import (
    StudyFiles,
    current_command,
    new_figure,
    save_figure,
    study_files,
    write_csv,
    write_markdown,
)
from roma_bench.tracking.tags import tag
from roma_bench.training import data as task_data
from roma_bench.training.normalization import harness_model
from roma_bench.training.resolve import build_train_config
from roma_bench.training.runs import TrainingJob, require_finished, run_training


def gyromidpoint(ball: PoincareBall, x: Tensor, weights: Tensor) -> Tensor:
    """Weighted Möbius gyromidpoints of ball points ``x`` ``[n, d]``, one per weight column.

    With the conformal factor ``λ_i = 2/(1 − c‖x_i‖²)`` and weights ``w`` ``[n, m]``
    (Ungar's weighted gyromidpoint on the ball of curvature ``−c``):
    ``y_k = Σ_i w_ik λ_i x_i / Σ_i w_ik (λ_i − 1)``, ``m_k = ½ ⊗ y_k = exp₀(½ log₀ y_k)``.
    One point with all the weight is its own midpoint; two points with equal weights give
    the point halfway along their geodesic. Returns ``[m, d]``, computed in float64.
    """
    x64, w = x.double(), weights.double()
    lam = 2.0 / (1.0 - ball.c * (x64 * x64).sum(-1, keepdim=True)).clamp_min(1e-15)  # [n, 1]
    numerator = w.transpose(0, 1) @ (lam * x64)  # [m, d]
    denominator = w.transpose(0, 1) @ (lam - 1.0)  # [m, 1]
    y = numerator / denominator.clamp_min(1e-15)
    return ball.expmap0(0.5 * ball.logmap0(y)).to(x.dtype)


def disk_layout(
    ball: PoincareBall, points: Tensor, extra: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """2-D Poincaré-disk positions of ball points ``[n, d]`` (and of ``extra`` ``[m, d]``).

    ``v = log₀ x`` (tangent space at the origin), projected on the two leading right
    singular vectors of the nodes' ``V`` (uncentred: the origin is the ball's centre), then
    ``exp₀`` into the disk of the same curvature (radius ``1/√c``). Distances from the
    centre are kept; angles are those of the best 2-D linear view.
    """
    v = ball.logmap0(points.double())
    _, _, vt = torch.linalg.svd(v, full_matrices=False)
    basis = vt[:2].transpose(0, 1)  # [d, 2]
    if basis.shape[1] < 2:
        basis = torch.nn.functional.pad(basis, (0, 2 - basis.shape[1]))
    flat = PoincareBall(ball.c)
    nodes = flat.expmap0(v @ basis)
    other = None if extra is None else flat.expmap0(ball.logmap0(extra.double()) @ basis)
    return nodes, other


@dataclass
class AttentionData:
    """What the two panels draw (numpy, float64).

    ``distance``, ``fine_to_coarse``, ``coarse_to_fine``, ``assignment``: ``[n, m]``;
    ``layout`` ``[n, 2]`` and ``supernode_layout`` ``[m, 2]`` on the disk of radius
    ``radius = 1/√c``; ``edges`` ``[E, 2]`` node index pairs; ``tokens`` ``T``.
    """

    distance: np.ndarray
    fine_to_coarse: np.ndarray
    coarse_to_fine: np.ndarray
    assignment: np.ndarray
    layout: np.ndarray
    supernode_layout: np.ndarray
    edges: np.ndarray
    radius: float
    #: tokens the attention is spread over (fine + every level's supernodes): uniform = 1/T
    tokens: int = 0

    @property
    def argmax(self) -> np.ndarray:
        """``[n]``: each node's most-weighted supernode."""
        return self.assignment.argmax(1)


def attention_data(
    ball: PoincareBall, points: Tensor, assignment: Tensor, maps: Sequence[Tensor], edges: Tensor
) -> AttentionData:
    """Panels (a) and (b) from the ball points ``[n, d]``, ``S`` ``[n, m]``, the maps.

    ``maps``: per layer ``[heads, T, T]`` with ``T ≥ n + m`` (fine tokens first, then the
    first level's supernodes); averaged over layers and heads into ``A`` ``[T, T]``.
    """
    n, m = assignment.shape
    if points.shape[0] != n:
        raise ValueError(f"points: {points.shape[0]} nodes, assignment: {n}")
    A = torch.stack(list(maps)).double().mean((0, 1))
    if A.shape[0] < n + m:
        raise ValueError(f"attention maps over {A.shape[0]} tokens, need ≥ n + m = {n + m}")
    mids = gyromidpoint(ball, points.double(), assignment)
    distance = ball.dist(points.double()[:, None, :], mids[None, :, :])
    layout, super_layout = disk_layout(ball, points, mids)
    return AttentionData(
        distance=distance.numpy(),
        fine_to_coarse=A[:n, n : n + m].numpy(),
        coarse_to_fine=A[n : n + m, :n].transpose(0, 1).numpy(),
        assignment=assignment.double().numpy(),
        layout=layout.numpy(),
        supernode_layout=super_layout.numpy(),
        edges=edges.numpy().astype(int),
        radius=float(ball.c) ** -0.5,
        tokens=int(A.shape[0]),
    )


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of two flat arrays (Pearson correlation of their ranks)."""
    from scipy.stats import spearmanr

    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def rows_of(data: AttentionData, provenance: dict[str, Any]) -> list[dict[str, Any]]:
    """One CSV row per (node, supernode), with ``provenance`` (task, version, steps…) on each."""
    n, m = data.assignment.shape
    own = data.argmax
    return [
        {
            "node": i,
            "supernode": k,
            "own": int(own[i] == k),
            "assignment": data.assignment[i, k],
            "distance": data.distance[i, k],
            "fine_to_coarse": data.fine_to_coarse[i, k],
            "coarse_to_fine": data.coarse_to_fine[i, k],
            "tokens": data.tokens,
            **provenance,
        }
        for i in range(n)
        for k in range(m)
    ]


def summary(data: AttentionData) -> dict[str, float]:
    """The numbers the markdown states: rank correlations and own/other attention means."""
    own = np.zeros_like(data.assignment, dtype=bool)
    own[np.arange(len(own)), data.argmax] = True
    return {
        "rho_fine_to_coarse": rank_correlation(data.distance, data.fine_to_coarse),
        "rho_coarse_to_fine": rank_correlation(data.distance, data.coarse_to_fine),
        "fine_to_own": float(data.fine_to_coarse[own].mean()),
        "fine_to_other": float(data.fine_to_coarse[~own].mean()) if (~own).any() else np.nan,
        "supernodes_used": len(np.unique(data.argmax)),
    }


def plot(data: AttentionData, path: Path, title: str) -> Path:
    """Panel (a) attention vs distance, panel (b) the coarse-graining on the disk."""
    import matplotlib.pyplot as plt

    fig, (left, right) = new_figure(2)
    for values, label, marker in ((data.fine_to_coarse, "fine → supernode", "o"),
                                  (data.coarse_to_fine, "supernode → fine", "^")):  # fmt: skip
        left.scatter(data.distance.ravel(), values.ravel(), s=6, alpha=0.35, marker=marker,
                     label=label)  # fmt: skip
    left.set_xlabel("hyperbolic distance d(x_i, midpoint of supernode k)")
    left.set_ylabel("attention weight (mean over layers, heads)")
    left.set_yscale("log")
    left.legend()
    left.set_title("(a) cross-scale attention vs distance")
    colours = plt.get_cmap("tab10")
    for a, b in data.edges:
        right.plot(*data.layout[[a, b]].T, color="0.8", lw=0.4, zorder=0)
    right.scatter(*data.layout.T, c=[colours(k % 10) for k in data.argmax], s=14, zorder=1)
    right.scatter(*data.supernode_layout.T, c=[colours(k % 10) for k in range(len(data.supernode_layout))],
                  marker="*", s=220, edgecolors="k", zorder=2)  # fmt: skip
    right.add_patch(plt.Circle((0, 0), data.radius, fill=False, color="k", lw=0.8))
    right.set_xlim(-data.radius, data.radius)
    right.set_ylim(-data.radius, data.radius)
    right.set_aspect("equal")
    right.set_title(
        "(b) learned coarse-graining (colour = argmax supernode)\n"
        f"Poincaré disk of radius 1/√c = {data.radius:.3g}"
    )
    fig.suptitle(textwrap.fill(title, 120))
    return save_figure(fig, path)


def write_outputs(
    data: AttentionData, files: StudyFiles, provenance: dict[str, Any], command: str
) -> dict[str, float]:
    """Write the CSV, the PNG and the markdown; returns :func:`summary`."""
    numbers = summary(data)
    write_csv(rows_of(data, provenance), files.csv, command)
    what = ", ".join(f"{k} {v}" for k, v in provenance.items())
    plot(data, files.png, f"ROMA multiscale attention ({what})")
    n, m = data.assignment.shape
    body = (
        f"{n} fine nodes (one held-out test batch), {m} first-level supernodes, "
        f"{numbers['supernodes_used']} of them the argmax of some node; {what}.\n\n"
        f"- Spearman ρ(distance, fine→supernode attention) = {numbers['rho_fine_to_coarse']:.3f}\n"
        f"- Spearman ρ(distance, supernode→fine attention) = {numbers['rho_coarse_to_fine']:.3f}\n"
        f"- mean fine→supernode weight: own supernode {numbers['fine_to_own']:.4g}, "
        f"others {numbers['fine_to_other']:.4g}; uniform attention over the "
        f"{data.tokens} tokens would be 1/{data.tokens} = {1 / max(data.tokens, 1):.4g}\n\n"
        f"![attention]({files.png.name})\n"
    )
    write_markdown(files, f"Multiscale attention study on {provenance.get('task', '?')}",
                   command, body)  # fmt: skip
    return numbers


def load_or_train(
    task: str,
    checkpoint: str | Path | None,
    steps: int,
    seed: int = 0,
    overrides: Sequence[str] = (),
    tracking_uri: str | None = None,
) -> tuple[Any, dict[str, Any], int]:
    """A ROMA on ``task``: the ``checkpoint``'s, or trained ``steps`` steps (size tiny).

    Returns ``(model, checkpoint extra, steps trained)``.
    """

    if checkpoint is None:
        fields = {"model_name": "roma", "task": task, "size": "tiny", "seed": seed, "steps": steps}
        config = build_train_config(None, fields, ["plots=false", *overrides])
        job = TrainingJob(config, {tag("study"): "attention"})
        result = run_training(job, tracking_uri=tracking_uri, progress=False)
        require_finished(result, "training ROMA for the attention study")
        checkpoint = result.checkpoint
    model, extra = load_checkpoint(checkpoint)
    if getattr(model, "multiscale_view", None) is None:
        raise ValueError(f"checkpoint {checkpoint}: model {type(model).__name__} is not ROMA")
    trained = int((extra.get("train_config") or {}).get("steps", steps))
    return model, extra, trained


def run_attention_study(
    task: str,
    checkpoint: str | Path | None = None,
    steps: int = 200,
    seed: int = 0,
    overrides: Sequence[str] = (),
    tracking_uri: str | None = None,
    out_dir: Path | None = None,
) -> tuple[dict[str, float], StudyFiles]:
    """Train (or load) a ROMA, draw panels (a) and (b) from its first test batch, write files."""

    model, extra, trained = load_or_train(task, checkpoint, steps, seed, overrides, tracking_uri)
    data = task_data.open_task_data(task, model.spec.learning_task, seed=seed, noise=None)
    mode = (extra.get("train_config") or {}).get("normalization", "increments")
    harness = harness_model(model, data.normalization, mode)
    batch = data.eval_batches("test")[0]
    normalized = harness.normalization.normalize(batch) if harness.normalization else batch
    model.eval()
    points, assignment, maps = model.multiscale_view(normalized)
    if assignment is None:
        raise ValueError("this ROMA has no supernodes (pool_steps = 0): nothing to draw")
    src, dst = batch.graph.edges()
    edges = torch.stack([src, dst], 1)
    view = attention_data(model.link.ball, points, assignment, maps, edges[src < dst])
    provenance = {"task": task, "task_version": data.version, "steps": trained,
                  "seed": seed, "checkpoint": str(checkpoint) if checkpoint else "trained here"}  # fmt: skip
    files = study_files("attention", task, out_dir)
    return write_outputs(view, files, provenance, current_command()), files
