"""Positional encodings of the nodes of a graph (or a sampled subgraph).

- Laplacian eigenvectors: the ``k`` eigenvectors of the symmetric normalized
  Laplacian ``L = I − D^{−1/2} A D^{−1/2}`` with the smallest eigenvalues after the
  trivial one, sign-fixed. ``scope="component"`` takes them per connected component
  instead: on a subgraph of ``c`` components the ``c − 1`` smallest nontrivial
  eigenvalues of ``L`` are all 0 and their eigenvectors an arbitrary basis of component
  indicators, so each component gets its own low-frequency modes (on a connected graph
  both scopes agree).
- Random-walk encodings: return probabilities ``(P^s)_ii`` of the random walk
  ``P = D^{−1} A`` after ``s = 1..k`` steps.

Graphs are taken as undirected (``A`` is the symmetrized 0/1 adjacency without
self loops); isolated nodes have ``D^{−1/2} = 0`` and ``P`` rows of zeros.
"""

from __future__ import annotations

from contextlib import nullcontext
from functools import lru_cache
from itertools import pairwise

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from torch import Tensor

#: Up to this many nodes the dense LAPACK solver (``eigh`` on a subset) is faster than ARPACK.
DENSE_EIGEN_MAX_NODES = 768
#: When ARPACK does not converge (a zero eigenvalue of high multiplicity: a subgraph of many
#: small components), up to this many nodes fall back to dense LAPACK (8 n² bytes: 512 MiB).
DENSE_FALLBACK_MAX_NODES = 8192
#: Up to this many nodes the component scope makes the whole Laplacian dense once (8 n² bytes).
COMPONENT_DENSE_MAX_NODES = 4096
#: Column block of the random-walk encoding for large graphs (memory ``n × block``).
RW_BLOCK = 1024


def adjacency(graph) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency ``[n, n]`` (float64, CSR) of ``graph`` without self loops."""
    src, dst = (t.numpy().astype(np.int64) for t in graph.edges())
    n = graph.num_nodes()
    keep = src != dst
    a = sp.coo_matrix(
        (np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n), dtype=np.float64
    ).tocsr()
    a = a.maximum(a.T)
    a.data[:] = 1.0
    return a


def normalized_laplacian(graph) -> sp.csr_matrix:
    """``L = I − D^{−1/2} A D^{−1/2}`` ``[n, n]`` (CSR, float64); eigenvalues in ``[0, 2]``."""
    return _normalized(adjacency(graph))


def _normalized(a: sp.csr_matrix) -> sp.csr_matrix:
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv_sqrt = np.zeros_like(degree)
    inv_sqrt[degree > 0] = degree[degree > 0] ** -0.5
    scale = sp.diags(inv_sqrt)
    return (sp.eye(a.shape[0], format="csr") - scale @ a @ scale).tocsr()


@lru_cache(maxsize=1)
def _blas_controller():
    """The process's BLAS thread pools, found once (scanning the loaded libraries costs ~4 ms,
    as much as a tenth of a 512-node batch)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - optional
        return None
    return ThreadpoolController()


def _single_threaded_blas():
    """One BLAS thread: on small matrices OpenBLAS's thread pool mostly spins (10–100× slower
    on a loaded machine)."""
    controller = _blas_controller()
    if controller is None:  # pragma: no cover - optional
        return nullcontext()
    return controller.limit(limits=1, user_api="blas")


def fix_signs(vectors: np.ndarray) -> np.ndarray:
    """Flip each column ``[n, k]`` so that its entry of largest magnitude (first on ties) is positive."""
    if vectors.size == 0:
        return vectors
    rows = np.argmax(np.abs(vectors), axis=0)
    signs = np.sign(vectors[rows, np.arange(vectors.shape[1])])
    signs[signs == 0] = 1.0
    return vectors * signs


def laplacian_eigenpairs(graph, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` smallest eigenpairs of ``L`` after the trivial one: ``(λ [m], V [n, m])``,
    ``m = min(k, n − 1)``, ascending, float64, sign-fixed (:func:`fix_signs`).

    Dense LAPACK (``eigh`` on an index subset) for ``n ≤ DENSE_EIGEN_MAX_NODES``,
    otherwise ARPACK ``eigsh`` in shift-invert mode around ``σ = −10⁻³`` with a fixed
    start vector (deterministic). When ARPACK does not converge — the zero eigenvalue has
    the multiplicity of the number of components, so a subgraph of many small components
    can stall it — graphs of up to ``DENSE_FALLBACK_MAX_NODES`` nodes are solved densely;
    larger ones raise a ``ValueError`` that says what to change.
    """
    return _eigenpairs(normalized_laplacian(graph), k)


def _eigenpairs(lap: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`laplacian_eigenpairs` of the normalized Laplacian ``lap`` ``[n, n]``."""
    n = lap.shape[0]
    m = max(min(k, n - 1), 0)
    if m == 0:
        return np.zeros(0), np.zeros((n, 0))
    with _single_threaded_blas():
        if n <= DENSE_EIGEN_MAX_NODES or m + 1 >= n - 1:
            values, vectors = _dense_eigenpairs(lap, m)
        else:
            start = np.random.default_rng(0).uniform(0.5, 1.5, n)
            try:
                values, vectors = eigsh(lap.tocsc(), k=m + 1, sigma=-1e-3, which="LM", v0=start)
            except ArpackNoConvergence as error:
                if n > DENSE_FALLBACK_MAX_NODES:
                    raise ValueError(
                        f"Laplacian eigenvectors of a {n}-node graph: ARPACK did not converge "
                        f"({error}); a zero eigenvalue of high multiplicity (many components) "
                        "stalls it. Use the card's `encodings.laplacian_scope: component`, or "
                        "fewer `batch.nodes`."
                    ) from error
                values, vectors = _dense_eigenpairs(lap, m)
            order = np.argsort(values)
            values, vectors = values[order], vectors[:, order]
    return values[1 : m + 1], fix_signs(vectors[:, 1 : m + 1])


def _dense_eigenpairs(lap: sp.csr_matrix, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``m + 1`` smallest eigenpairs of ``lap`` by dense LAPACK (``evr`` on an index subset)."""
    return scipy.linalg.eigh(lap.toarray(), subset_by_index=[0, m], driver="evr")


#: Where the Laplacian eigenvectors are taken: the whole (sub)graph, or each connected component.
LAPLACIAN_SCOPES = ("graph", "component")


def laplacian_pe(graph, k: int, scope: str = "graph") -> Tensor:
    """Laplacian eigenvector encoding ``[n, k]`` float32: columns are the eigenvectors
    of ``L`` for the ``k`` smallest eigenvalues after the trivial one (unit norm,
    sign-fixed); zero columns pad it when ``n − 1 < k``.

    ``scope="component"``: node ``i`` of a component ``C`` (``|C| ≥ 2``) gets the
    eigenvectors of ``L`` restricted to ``C`` (the normalized Laplacian of ``C`` alone),
    zero-padded when ``|C| − 1 < k``; isolated nodes get zeros.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    if scope not in LAPLACIAN_SCOPES:
        raise ValueError(f"scope must be one of {LAPLACIAN_SCOPES}, got {scope!r}")
    n = graph.num_nodes()
    out = np.zeros((n, k), dtype=np.float32)
    if scope == "graph" or n == 0 or k == 0:
        _, vectors = laplacian_eigenpairs(graph, k)
        out[:, : vectors.shape[1]] = vectors
        return torch.from_numpy(out)
    from scipy.sparse.csgraph import connected_components

    a = adjacency(graph)
    _, labels = connected_components(a, directed=False)
    order = np.argsort(labels, kind="stable")  # components become contiguous blocks
    bounds = [*np.flatnonzero(np.diff(labels[order], prepend=-1)), n]
    lap = _normalized(a)[order][:, order]  # block diagonal
    dense = lap.toarray() if n <= COMPONENT_DENSE_MAX_NODES else None
    with _single_threaded_blas():  # once: entering it costs ~0.1 ms, a component's eigh less
        for start, stop in pairwise(bounds):
            size, m = stop - start, min(k, stop - start - 1)
            if m < 1:
                continue  # an isolated node: zeros
            if dense is not None and size <= DENSE_EIGEN_MAX_NODES:
                _, vectors = np.linalg.eigh(dense[start:stop, start:stop])
                vectors = fix_signs(vectors[:, 1 : m + 1])
            else:
                _, vectors = _eigenpairs(lap[start:stop, start:stop].tocsr(), k)
            out[order[start:stop], :m] = vectors
    return torch.from_numpy(out)


def random_walk_pe(graph, k: int) -> Tensor:
    """Random-walk encoding ``[n, k]`` float32: column ``s−1`` is ``diag(P^s)``, the
    probability that a walk ``P = D^{−1} A`` from node ``i`` is back at ``i`` after
    ``s`` steps, ``s = 1..k``.

    Computed as ``P^s E_B`` for column blocks ``E_B`` of the identity (sparse ×
    dense), cost ``O(k · nnz(A) · n)``: meant for subgraphs (thousands of nodes).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    n = graph.num_nodes()
    out = np.zeros((n, k), dtype=np.float64)
    if n == 0 or k == 0:
        return torch.from_numpy(out.astype(np.float32))
    a = adjacency(graph)
    degree = np.asarray(a.sum(axis=1)).ravel()
    inv = np.zeros_like(degree)
    inv[degree > 0] = 1.0 / degree[degree > 0]
    walk = (sp.diags(inv) @ a).tocsr().astype(np.float32)  # float32 halves the memory traffic
    for start in range(0, n, RW_BLOCK):
        cols = np.arange(start, min(start + RW_BLOCK, n))
        block = np.zeros((n, len(cols)), dtype=np.float32)
        block[cols, np.arange(len(cols))] = 1.0
        for s in range(k):
            block = walk @ block
            out[cols, s] = block[cols, np.arange(len(cols))]
    return torch.from_numpy(out.astype(np.float32))


def standardize_columns(x: Tensor, eps: float = 1e-8) -> Tensor:
    """``(x − mean) / std`` per column ``[n, d]``; a constant column (std < eps) becomes 0."""
    if x.shape[0] == 0:
        return x
    mean = x.mean(dim=0, keepdim=True)
    std = x.std(dim=0, unbiased=False, keepdim=True)
    return torch.where(std > eps, (x - mean) / std.clamp_min(eps), torch.zeros_like(x))


def positional_encodings(
    graph, laplacian: int, random_walk: int, laplacian_scope: str = "graph"
) -> Tensor:
    """``[n, laplacian + random_walk]`` float32: :func:`laplacian_pe` (over
    ``laplacian_scope``) then :func:`random_walk_pe`, each column standardized to zero mean
    and unit variance over the nodes (:func:`standardize_columns`; padding and constant
    columns are 0), so both parts have the same scale whatever the graph size."""
    parts = []
    if laplacian:
        parts.append(standardize_columns(laplacian_pe(graph, laplacian, laplacian_scope)))
    if random_walk:
        parts.append(standardize_columns(random_walk_pe(graph, random_walk)))
    if not parts:
        return torch.zeros((graph.num_nodes(), 0))
    return torch.cat(parts, dim=1)
