"""The unit of data every model consumes: one sampled subgraph with its windows."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph

System = Literal["kuramoto", "social"]
LearningTask = Literal["forecast", "effective"]

#: Channels ``S`` of ``Batch.state``, the offset-free description of the current state:
#: Kuramoto ``(cos θ_t0, sin θ_t0)``, social ``u_t0 / level_scale``.
STATE_SIZE: dict[str, int] = {"kuramoto": 2, "social": 1}

#: Highest order of the backward differences the harness gives learned models (``Batch.differences``).
#: Orders above 4 are dominated by float32 rounding of the stored field on the tiny cards
#: (their RMS grows with the order from j = 5 on km-tiny), so they carry no signal.
MAX_DIFFERENCE_ORDER = 4


def difference_orders(lookback: int) -> int:
    """``p = min(4, κ − 1)``: how many backward differences ``∇^1 … ∇^p`` a window of ``κ`` frames gives."""
    return max(0, min(MAX_DIFFERENCE_ORDER, lookback - 1))


def backward_differences(history: Tensor, orders: int) -> Tensor:
    """``[n, κ]`` frames → ``[n, p]`` backward differences at the last frame, ``∇^j x_t0``.

    ``∇^1 x_k = x_k − x_{k−1}``, ``∇^j x_k = ∇^{j−1} x_k − ∇^{j−1} x_{k−1}`` (j = 1 … p);
    offset-free for every ``j ≥ 1``. Computed in float64, returned in ``history``'s dtype.
    """
    if orders > history.shape[1] - 1:
        raise ValueError(
            f"{orders} backward differences need > {orders} frames, got {history.shape[1]}"
        )
    current, out = history.double(), []
    for _ in range(orders):
        current = current[:, 1:] - current[:, :-1]
        out.append(current[:, -1])
    if not out:
        return history.new_zeros(history.shape[0], 0)
    return torch.stack(out, dim=1).to(history.dtype)


@dataclass
class Batch:
    """A sampled subgraph of ``n`` nodes with a lookback window and its targets.

    Shapes (``n`` nodes, ``κ`` lookback, ``H`` horizon, ``m`` coarse parts,
    ``P`` encoding channels, ``C`` coarse-observable channels):

    - ``graph``: bidirected :class:`dgl.DGLGraph` with ``n`` nodes (an
      :class:`~roma_bench.graphs.edge_graph.EdgeGraph` where DGL cannot be imported), always on the CPU
      (DGL from the package index is CPU-only; models move edge indices themselves
      through :mod:`roma_bench.graphs.ops`).
    - ``node_ids``: ``[n]`` int64, ids of the nodes in the whole task graph.
    - ``history``: ``[n, κ]`` float32, the field at frames ``t0-κ+1 … t0``
      (Kuramoto: unwrapped phase θ; social: activity u ≥ 0).
    - ``target``: ``[n, H]`` float32, the field at frames ``t0+1 … t0+H``.
    - ``t0``: float, physical time of the last history frame; frame spacing is ``frame_dt``.
    - ``encodings``: ``[n, P]`` float32 positional encodings of the subgraph
      (Laplacian eigenvectors then random-walk encodings, see ``encoding_sizes``).
    - ``coords``: ``[n, 2]`` float32 hyperbolic coordinates (radius, angle) of the nodes.
    - ``coarse_assignment``: ``[n]`` int64 in ``[0, m)``, the coarse part of each node
      (relabelled to be contiguous inside the batch).
    - ``coarse_target``: ``[m, H, C]`` float32 coarse observables of the batch's nodes at
      the target frames (Kuramoto: C=2, ``(R_c cos ψ_c, R_c sin ψ_c)``; social: C=1,
      the part's mean activity), computed from the fine-scale ``target`` (so in training
      batches with observation noise on, from the noised target).
    - ``future``: optional ``[n, R]`` float32 clean frames ``t0+1 … t0+R`` for rollout
      evaluation (``R ≥ H``); ``None`` for training batches.
    - ``state``: optional ``[n, S]`` float32 offset-free description of the state at ``t0``
      (``S = STATE_SIZE[system]``), set by the harness's normalization
      (:mod:`roma_bench.training.normalization`) for learned models; ``None`` in raw batches.
    - ``differences``: optional ``[n, p]`` float32 backward differences ``∇^j x_t0 / σ_j``
      of the history, ``j = 1 … p`` (``p = difference_orders(κ)``, ``σ_j`` the task's stored
      ``difference_scales``), set by the harness next to ``state``; ``None`` in raw batches.
    - ``edge_index``: optional ``[2, E]`` int64 edges of ``graph`` as (source, destination)
      local ids in ``[0, n)``, both directions of every link (what PyG or plain torch needs);
      set by the loader.

    Learned models receive the harness's *normalized* batch, in which ``history`` and
    ``target`` are increments from the last observed frame in units of the task's stored
    increment scale (see :mod:`roma_bench.training.normalization`); floors receive raw ones.
    """

    graph: Graph
    node_ids: Tensor
    history: Tensor
    target: Tensor
    t0: float
    frame_dt: float
    encodings: Tensor
    coords: Tensor
    coarse_assignment: Tensor
    coarse_target: Tensor
    system: System
    encoding_sizes: tuple[int, int] = (0, 0)
    future: Tensor | None = None
    state: Tensor | None = None
    differences: Tensor | None = None
    edge_index: Tensor | None = None
    extras: dict[str, Tensor] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return int(self.history.shape[0])

    @property
    def lookback(self) -> int:
        return int(self.history.shape[1])

    @property
    def horizon(self) -> int:
        return int(self.target.shape[1])

    @property
    def num_parts(self) -> int:
        return int(self.coarse_target.shape[0])

    @property
    def device(self) -> torch.device:
        return self.history.device

    def target_times(self) -> Tensor:
        """``[H]`` physical times of the target frames, ``t0 + k·frame_dt`` for k = 1…H."""
        steps = torch.arange(1, self.horizon + 1, dtype=torch.float32, device=self.device)
        return self.t0 + steps * self.frame_dt

    def to(self, device: torch.device | str) -> Batch:
        """Move every tensor to ``device``; the graph stays on the CPU."""

        def move(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.to(device, non_blocking=True)

        return replace(
            self,
            node_ids=move(self.node_ids),
            history=move(self.history),
            target=move(self.target),
            encodings=move(self.encodings),
            coords=move(self.coords),
            coarse_assignment=move(self.coarse_assignment),
            coarse_target=move(self.coarse_target),
            future=move(self.future),
            state=move(self.state),
            differences=move(self.differences),
            edge_index=move(self.edge_index),
            extras={k: v.to(device) for k, v in self.extras.items()},
        )

    def validate(self) -> None:
        """Raise ``ValueError`` naming the field whose shape disagrees with the others."""
        n = self.graph.num_nodes()
        checks = {
            "node_ids": (self.node_ids, (n,)),
            "history": (self.history, (n, None)),
            "target": (self.target, (n, None)),
            "encodings": (self.encodings, (n, None)),
            "coords": (self.coords, (n, 2)),
            "coarse_assignment": (self.coarse_assignment, (n,)),
        }
        if self.state is not None:
            checks["state"] = (self.state, (n, STATE_SIZE[self.system]))
        if self.differences is not None:
            checks["differences"] = (self.differences, (n, difference_orders(self.lookback)))
        for name, (tensor, shape) in checks.items():
            ok = tensor.dim() == len(shape) and all(
                want is None or got == want for got, want in zip(tensor.shape, shape)
            )
            if not ok:
                raise ValueError(
                    f"Batch.{name}: expected shape {tuple('*' if s is None else s for s in shape)}"
                    f" for a graph of {n} nodes, got {tuple(tensor.shape)}"
                )
        if self.edge_index is not None and (
            self.edge_index.dim() != 2
            or self.edge_index.shape[0] != 2
            or self.edge_index.dtype != torch.int64
        ):
            raise ValueError(
                f"Batch.edge_index: expected int64 [2, E], got {self.edge_index.dtype} "
                f"{tuple(self.edge_index.shape)}"
            )
        if self.coarse_target.dim() != 3 or self.coarse_target.shape[1] != self.horizon:
            raise ValueError(
                f"Batch.coarse_target: expected [m, {self.horizon}, C], "
                f"got {tuple(self.coarse_target.shape)}"
            )
