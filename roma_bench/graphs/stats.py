"""Summary statistics of a graph: size, degree, power-law tail, communities, modularity."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from roma_bench.graphs.partition import community_partition
from roma_bench.graphs.undirected import undirected_edges

if TYPE_CHECKING:
    from roma_bench.graphs.backend import Graph

#: Fewest tail samples a candidate ``x_min`` must leave for the power-law fit ...
MIN_TAIL = 50
#: ... and at least this fraction of the positive degrees (small tails of finite graphs are
#: dominated by the degree cutoff and bias γ̂ low).
MIN_TAIL_FRACTION = 0.05


def power_law_exponent(
    degrees: np.ndarray | torch.Tensor, xmin: int | None = None
) -> tuple[float, int]:
    """Exponent ``γ`` of the degree tail ``P(k) ∝ k^−γ`` for ``k ≥ x_min``: ``(γ, x_min)``.

    Discrete maximum likelihood in the continuity approximation of Clauset,
    Shalizi & Newman (2009, eq. 3.7):

        γ̂ = 1 + n_tail / Σ_{k_i ≥ x_min} ln(k_i / (x_min − 1/2)),

    with ``x_min`` (unless given) the candidate degree minimising the
    Kolmogorov–Smirnov distance between the empirical tail and the fitted law,
    among candidates leaving at least ``MIN_TAIL`` samples and ``MIN_TAIL_FRACTION``
    of them. Returns ``(nan, 0)``
    when there are too few positive degrees to fit.
    """
    k = np.asarray(degrees, dtype=np.float64)
    k = np.sort(k[k > 0])
    if len(k) < 2:
        return math.nan, 0
    if xmin is not None:
        tail = k[k >= xmin]
        if len(tail) < 2:
            return math.nan, int(xmin)
        return 1.0 + len(tail) / float(np.log(tail / (xmin - 0.5)).sum()), int(xmin)
    candidates = np.unique(k)
    best = (math.inf, math.nan, 0)
    min_tail = max(MIN_TAIL, int(MIN_TAIL_FRACTION * len(k)))
    for x in candidates:
        start = np.searchsorted(k, x)
        tail = k[start:]
        if len(tail) < min_tail and best[2] != 0:
            break
        logs = np.log(tail / (x - 0.5))
        total = logs.sum()
        if total <= 0:
            continue
        gamma = 1.0 + len(tail) / total
        # KS distance between the empirical CCDF and (k / (x − 1/2))^{−(γ−1)} at the tail's values
        values, counts = np.unique(tail, return_counts=True)
        ccdf_emp = 1.0 - np.concatenate([[0], np.cumsum(counts)[:-1]]) / len(tail)
        ccdf_fit = ((values - 0.5) / (x - 0.5)) ** (1.0 - gamma)
        distance = float(np.abs(ccdf_emp - ccdf_fit).max())
        if distance < best[0]:
            best = (distance, gamma, int(x))
        if len(tail) < min_tail:
            break
    return float(best[1]), best[2]


def modularity(num_nodes: int, u: np.ndarray, v: np.ndarray, labels: np.ndarray) -> float:
    """Newman modularity of a partition of an undirected graph with edges ``(u, v)``:

        Q = Σ_c [ L_c / m − (d_c / 2m)² ],

    ``m`` the number of edges, ``L_c`` the edges inside community ``c`` and ``d_c``
    the sum of its degrees. ``nan`` for a graph without edges.
    """
    m = len(u)
    if m == 0:
        return math.nan
    labels = np.asarray(labels, dtype=np.int64)
    size = int(labels.max()) + 1 if num_nodes else 0
    inside = labels[u] == labels[v]
    l_c = np.bincount(labels[u][inside], minlength=size)
    d_c = np.bincount(
        labels, weights=np.bincount(np.concatenate([u, v]), minlength=num_nodes), minlength=size
    )
    return float((l_c / m).sum() - ((d_c / (2 * m)) ** 2).sum())


def graph_statistics(graph: Graph) -> dict:
    """Statistics of an undirected (bidirected) graph.

    Returns a dict with ``nodes``; ``edges`` (undirected, unique, no self loops);
    ``mean_degree`` (``2·edges / nodes``); ``gamma`` and ``xmin`` (the fitted
    degree-tail exponent, :func:`power_law_exponent`); ``communities`` and
    ``modularity`` of ``ndata['community']`` (computed with PLM if absent).
    """
    n = graph.num_nodes()
    u, v = undirected_edges(graph)
    degree = np.bincount(np.concatenate([u, v]), minlength=n)
    gamma, xmin = power_law_exponent(degree)
    labels = community_partition(graph).numpy() if n else np.zeros(0, dtype=np.int64)
    return {
        "nodes": int(n),
        "edges": len(u),
        "mean_degree": float(2 * len(u) / n) if n else 0.0,
        "max_degree": int(degree.max()) if n else 0,
        "gamma": gamma,
        "xmin": xmin,
        "communities": len(np.unique(labels)),
        "modularity": modularity(n, u, v, labels),
    }
