"""Operator heads: Fourier features of (t, y), a residual trunk, DeepONet and NOMAD decoders.

A latent field ``u(t, y) ∈ R^{d_u}`` is attached to every token. With branch
coefficients ``b`` ``[p, d_b]`` (from the multiscale transformer) and trunk basis
functions ``τ(t, y) = Trunk([φ(t, y), c])`` ``[p]`` (``c`` the token's conditioning,
e.g. its geometric embedding):

- DeepONet (linear):  ``u_j(t, y) = (1/√p) Σ_i b_ij τ_i(t, y)``  (``d_u = d_b``; for a scalar
  output ``d_u = 1`` the coefficients are averaged over ``j``: ``b_i = mean_j b_ij``)
- NOMAD (nonlinear):  ``u(t, y) = Trunk([φ(t, y), c, b])``  (the trunk outputs ``d_u`` values)

Fourier features: ``φ(t, y) = [sin(B ᵀ(t, y)), cos(B ᵀ(t, y))]`` with a fixed random
``B`` ``[1 + d, coord_dim/2]`` (time row ~ N(0, σ_t²), latent rows ~ N(0, σ_y²)).

Trunk (residual MLP): ``h ← LN(GELU(W h + b)) (+ h when the widths match)`` for each
hidden layer, then a linear output. Its LayerNorm is written with elementary ops
(:func:`layer_norm`) because torch 2.2's fused layer norm gives wrong second-order
forward-mode derivatives, which the effective-dynamics head needs.

**Jets** (``jet`` methods): the trunk is a fixed sequence of elementary maps, so its
first directional derivatives along the ``K = 1 + d`` coordinate axes of ``(t, y)`` and
its Laplacian in the latent axes, ``Δ_y = Σ_k ∂²/∂y_k²``, are propagated alongside the
values in one batched pass ("Taylor mode" for the first derivatives, the "forward
Laplacian" for the second): for ``y = f(x)``, ``dy_k = f'(x) dx_k`` and
``Δy = f''(x) Σ_k dx_k² + f'(x) Δx`` (sum over the latent axes ``k``), with closed forms
for the Fourier features, linear maps, GELU (``g' = Φ + xφ``, ``g'' = φ(2 − x²)``) and the
layer norm. The latent PDE uses ``Δ_y u`` only (never ``∂²u/∂t²`` nor a single
``∂²u/∂y_k²``), so one second-order tangent is carried instead of ``d``. This gives
exactly what :func:`~.pde.field_derivatives` computes with nested ``torch.func.jvp``
(tested) at a fraction of the cost, and stays differentiable with respect to the
parameters.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def layer_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float = 1e-5) -> Tensor:
    """``(x − mean) / √(var + eps) · weight + bias`` over the last axis (forward-AD safe)."""
    mean = x.mean(-1, keepdim=True)
    centred = x - mean
    var = (centred * centred).mean(-1, keepdim=True)
    return centred * torch.rsqrt(var + eps) * weight + bias


#: value [N, w], first derivatives [K, N, w] along (t, y), Laplacian in y [1, N, w] or None
Jet = tuple[Tensor, Tensor, Tensor | None]

_INV_SQRT2 = 1 / math.sqrt(2)
_INV_SQRT2PI = 1 / math.sqrt(2 * math.pi)


def _latent(d1: Tensor) -> Tensor:
    """The first derivatives along the latent axes ``y``: all but the first (``t``)."""
    return d1[1:]


def gelu_jet(x: Tensor, dx: Tensor, lap: Tensor | None) -> Jet:
    """Exact GELU ``g(x) = xΦ(x)`` with its directional derivatives ``g' dx_k`` and its
    Laplacian ``g'' Σ_k dx_k² + g' Δx`` (``k`` over the latent axes, ``dx[1:]``)."""
    cdf = 0.5 * (1 + torch.erf(x * _INV_SQRT2))
    pdf = torch.exp(-0.5 * x * x) * _INV_SQRT2PI
    g1 = cdf + x * pdf
    if lap is None:
        return x * cdf, g1 * dx, None
    dy = _latent(dx)
    g2 = pdf * (2 - x * x)
    return x * cdf, g1 * dx, torch.addcmul(g1 * lap, g2, (dy * dy).sum(0, keepdim=True))


def layer_norm_jet(
    x: Tensor, dx: Tensor, lap: Tensor | None, weight: Tensor, bias: Tensor, eps: float = 1e-5
) -> Jet:
    """:func:`layer_norm` with its directional derivatives and its latent Laplacian.

    With ``c = x − mean x``, ``v = mean c²``, ``r = (v + ε)^(−1/2)``: per axis ``k``
    ``dv_k = 2 mean(c dc_k) = 2 mean(c dx_k)`` (``mean c = 0``), ``dr_k = −½ r³ dv_k``,
    ``d(c r)_k = dc_k r + c dr_k``; summed over the latent axes,
    ``Δv = 2 mean(Σ_k dc_k² + c Δc)``, ``Δr = ¾ r⁵ Σ_k dv_k² − ½ r³ Δv`` and
    ``Δ(c r) = Δc r + 2 Σ_k dc_k dr_k + c Δr``. Written with the row factors ``r·weight``
    and ``c·weight`` so that each ``[K, N, w]`` tangent takes few full-size passes.
    """
    c = x - x.mean(-1, keepdim=True)
    r = torch.rsqrt((c * c).mean(-1, keepdim=True) + eps)  # [N, 1]
    rw, cw = r * weight, c * weight  # [N, w]
    dc = dx - dx.mean(-1, keepdim=True)
    dv = (2.0 / x.shape[-1]) * (dx * c).sum(-1, keepdim=True)  # [K, N, 1]
    dr = -0.5 * r**3 * dv
    out, dout = torch.addcmul(bias, cw, r), torch.addcmul(dr * cw, dc, rw)
    if lap is None:
        return out, dout, None
    dc, dv, dr = _latent(dc), _latent(dv), _latent(dr)
    lap_c = lap - lap.mean(-1, keepdim=True)
    lap_v = 2 * ((dc * dc).sum(0, keepdim=True) + c * lap_c).mean(-1, keepdim=True)
    lap_r = 0.75 * r**5 * (dv * dv).sum(0, keepdim=True) - 0.5 * r**3 * lap_v
    return out, dout, lap_c * rw + (2 * (dc * dr).sum(0, keepdim=True) + c * lap_r) * weight


class FourierFeatures(nn.Module):
    """``φ(t, y) = [sin(txB), cos(txB)]`` for ``tx`` ``[N, 1 + d]`` → ``[N, coord_dim]``."""

    def __init__(self, x_dim: int, coord_dim: int, t_std: float, y_std: float, seed: int = 1):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        B = torch.randn(1 + x_dim, coord_dim // 2, generator=gen)
        B[0] *= t_std
        B[1:] *= y_std
        self.register_buffer("B", B)
        self.out_dim = coord_dim

    def forward(self, tx: Tensor) -> Tensor:
        proj = tx @ self.B
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)

    def jet(self, tx: Tensor, order: int = 2) -> Jet:
        """Values, first derivatives along each axis ``k`` of ``(t, y)`` ``[K, N, ·]`` and
        (``order`` 2) the latent Laplacian ``[1, N, ·]``: ``Δ_y sin(p) = −sin(p) Σ_k B_k²``
        (``p`` linear in ``y``), likewise for ``cos``."""
        proj = tx @ self.B  # [N, h]
        dp = self.B.unsqueeze(1)  # [K, 1, h]: ∂proj/∂x_k (constant)
        sin, cos = torch.sin(proj), torch.cos(proj)
        value = torch.cat([sin, cos], dim=-1)
        d1 = torch.cat([cos * dp, -sin * dp], dim=-1)
        dq = (dp[1:] * dp[1:]).sum(0, keepdim=True)  # [1, 1, h]: Σ_k B_k²
        lap = torch.cat([-sin * dq, -cos * dq], dim=-1) if order >= 2 else None
        return value, d1, lap


class ResidualTrunk(nn.Module):
    """Residual MLP ``[N, in_dim] → [N, out_dim]`` with ``layers`` hidden layers of ``width``."""

    def __init__(self, in_dim: int, out_dim: int, width: int, layers: int):
        super().__init__()
        dims = [in_dim] + [width] * layers
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.ln_weight = nn.ParameterList(nn.Parameter(torch.ones(width)) for _ in range(layers))
        self.ln_bias = nn.ParameterList(nn.Parameter(torch.zeros(width)) for _ in range(layers))
        self.out = nn.Linear(dims[-1], out_dim)

    def forward(self, x: Tensor) -> Tensor:
        for linear, w, b in zip(self.hidden, self.ln_weight, self.ln_bias):
            h = layer_norm(F.gelu(linear(x)), w, b)
            x = x + h if h.shape == x.shape else h
        return self.out(x)

    def jet(self, x: Tensor, dx: Tensor, d2x: Tensor | None) -> Jet:
        """Propagate a jet; ``dx`` ``[K, N, k₀]`` / the latent Laplacian ``d2x`` ``[1, N, k₀]``
        cover the first ``k₀`` input columns (the others are constant in the differentiation
        variables)."""
        k0 = dx.shape[-1]
        for i, (linear, w, b) in enumerate(zip(self.hidden, self.ln_weight, self.ln_bias)):
            weight = linear.weight[:, :k0] if i == 0 else linear.weight
            y = linear(x)
            dy = dx @ weight.transpose(0, 1)
            d2y = None if d2x is None else d2x @ weight.transpose(0, 1)
            h, dh, d2h = layer_norm_jet(*gelu_jet(y, dy, d2y), w, b)
            if h.shape == x.shape:
                if dx.shape[-1] != h.shape[-1]:
                    dx = F.pad(dx, (0, h.shape[-1] - dx.shape[-1]))
                    d2x = None if d2x is None else F.pad(d2x, (0, h.shape[-1] - d2x.shape[-1]))
                h, dh = x + h, dx + dh
                d2h = None if d2x is None else d2x + d2h
            x, dx, d2x = h, dh, d2h
        weight = self.out.weight if len(self.hidden) else self.out.weight[:, :k0]
        d2 = None if d2x is None else d2x @ weight.transpose(0, 1)
        return self.out(x), dx @ weight.transpose(0, 1), d2


class LatentOperator(nn.Module):
    """DeepONet/NOMAD decoder of a latent field (see the module docstring).

    ``forward(tx [N, 1+d], cond [N, c], coeffs [N, p·d_b]) → [N, out_dim]``; every row is
    independent of the others (needed for the autograd derivatives in (t, y)).
    """

    def __init__(
        self,
        fourier: FourierFeatures,
        cond_dim: int,
        p: int,
        coeff_dim: int,
        out_dim: int,
        width: int,
        layers: int,
        nonlinear: bool = False,
    ) -> None:
        super().__init__()
        if not nonlinear and out_dim not in (1, coeff_dim):
            raise ValueError(
                f"DeepONet output {out_dim} must be 1 or the coefficient dim {coeff_dim}"
            )
        self.fourier = fourier
        self.p, self.coeff_dim, self.out_dim = p, coeff_dim, out_dim
        self.nonlinear = nonlinear
        self.cond_dim = cond_dim
        in_dim = fourier.out_dim + cond_dim + (p * coeff_dim if nonlinear else 0)
        self.trunk = ResidualTrunk(in_dim, out_dim if nonlinear else p, width, layers)

    def forward(self, tx: Tensor, cond: Tensor, coeffs: Tensor) -> Tensor:
        phi = self.fourier(tx)
        if self.nonlinear:
            return self.trunk(torch.cat([phi, cond, coeffs], dim=-1))
        basis = self.trunk(torch.cat([phi, cond], dim=-1))  # [N, p]
        return torch.einsum("npj,np->nj", self._coefficients(coeffs), basis) / math.sqrt(self.p)

    def jet(self, tx: Tensor, cond: Tensor, coeffs: Tensor, order: int = 2) -> Jet:
        """``u`` ``[N, out]``, its first derivatives along each axis of ``(t, y)`` ``[K, N, out]``
        and (``order`` 2) its latent Laplacian ``Δ_y u`` ``[1, N, out]``."""
        phi, dphi, d2phi = self.fourier.jet(tx, order)
        extra = [cond, coeffs] if self.nonlinear else [cond]
        value, d1, d2 = self.trunk.jet(torch.cat([phi, *extra], dim=-1), dphi, d2phi)
        if self.nonlinear:
            return value, d1, d2
        b = self._coefficients(coeffs)
        scale = 1 / math.sqrt(self.p)
        u = torch.einsum("npj,np->nj", b, value) * scale
        du = torch.einsum("npj,knp->knj", b, d1) * scale
        d2u = None if d2 is None else torch.einsum("npj,knp->knj", b, d2) * scale
        return u, du, d2u

    def shared_jet(self, points: Tensor, coeffs: Tensor, order: int = 2) -> Jet:
        """:meth:`jet` at the same ``H`` points for each of ``n`` nodes, rows node-major
        (row ``i·H + h`` is node ``i`` at ``points[h]``), for a DeepONet without per-row
        conditioning: the trunk depends on the point alone, so its jet runs on ``H`` rows
        instead of ``n·H`` and only the branch contraction
        ``u_{ih} = (1/√p) Σ_k b_ikj τ_k(points_h)`` is per node. ``coeffs`` ``[n, p·d_b]``."""
        if self.nonlinear or self.cond_dim:
            raise ValueError(
                "shared_jet needs a linear (DeepONet) operator without per-row conditioning"
            )
        phi, dphi, d2phi = self.fourier.jet(points, order)
        value, d1, d2 = self.trunk.jet(phi, dphi, d2phi)  # [H, p], [K, H, p], [1, H, p]
        b = self._coefficients(coeffs)  # [n, p, j]
        n, h, scale = b.shape[0], points.shape[0], 1 / math.sqrt(self.p)
        u = torch.einsum("npj,hp->nhj", b, value).reshape(n * h, -1) * scale
        du = torch.einsum("npj,khp->knhj", b, d1).reshape(d1.shape[0], n * h, -1) * scale
        d2u = None
        if d2 is not None:
            d2u = torch.einsum("npj,khp->knhj", b, d2).reshape(1, n * h, -1) * scale
        return u, du, d2u

    def _coefficients(self, coeffs: Tensor) -> Tensor:
        """Branch coefficients ``[N, p·d_b]`` → ``[N, p, d_b]`` (averaged over ``d_b`` for a
        scalar output)."""
        b = coeffs.view(-1, self.p, self.coeff_dim)
        if self.out_dim == 1 and self.coeff_dim != 1:
            b = b.mean(-1, keepdim=True)
        return b


class BoundOperator:
    """A :class:`LatentOperator` with its per-point conditioning fixed: ``u_fn(tx)`` plus ``jet``.

    This is the field object :func:`~.pde.pde_residual` takes; with ``jet`` available it
    uses the fast Taylor-mode derivatives instead of nested ``torch.func.jvp``.
    """

    def __init__(self, operator: LatentOperator, cond: Tensor, coeffs: Tensor):
        self.operator, self.cond, self.coeffs = operator, cond, coeffs

    def __call__(self, tx: Tensor) -> Tensor:
        return self.operator(tx, self.cond, self.coeffs)

    def jet(self, tx: Tensor, order: int = 2) -> Jet:
        return self.operator.jet(tx, self.cond, self.coeffs, order)


class SharedPointsField(BoundOperator):
    """A :class:`BoundOperator` of a DeepONet without per-row conditioning whose rows are the
    same ``horizon`` points for every node, node-major (:func:`~.latent_pde.supervised_points`).

    Calling it is the per-row operator; :meth:`jet` checks that ``tx`` has that layout and
    runs the trunk's jet on the ``horizon`` distinct points
    (:meth:`LatentOperator.shared_jet`): the same numbers as the per-row jet at a
    fraction of the cost. ``coeffs`` ``[n·H, p·d_b]`` (node-major rows, as the per-row field).
    """

    def __init__(self, operator: LatentOperator, coeffs: Tensor, horizon: int):
        if coeffs.shape[0] % horizon:
            raise ValueError(f"{coeffs.shape[0]} coefficient rows are not a multiple of {horizon}")
        super().__init__(operator, coeffs.new_zeros(coeffs.shape[0], 0), coeffs)
        self.horizon = horizon

    def jet(self, tx: Tensor, order: int = 2) -> Jet:
        h = self.horizon
        rows = tx.view(-1, h, tx.shape[1]) if tx.shape[0] % h == 0 else None
        if (
            rows is None
            or tx.shape[0] != self.coeffs.shape[0]
            or not torch.equal(rows, rows[:1].expand_as(rows))
        ):
            raise ValueError(
                f"SharedPointsField.jet: tx {tuple(tx.shape)} is not the same {h} points "
                f"for each of the {self.coeffs.shape[0] // h} nodes (node-major)"
            )
        nodes = self.coeffs.view(-1, h, self.coeffs.shape[1])[:, 0]
        return self.operator.shared_jet(tx[:h], nodes, order)


class Reduction(nn.Module):
    """Forecast from the latent field at ``y = 0``: ``u ↦ wᵀu + c`` (linear), ``‖u‖`` or ``Σ u``."""

    def __init__(self, kind: str, dim: int):
        super().__init__()
        self.kind = kind
        self.linear = nn.Linear(dim, 1) if kind == "linear" else None

    def forward(self, u: Tensor) -> Tensor:
        if self.linear is not None:
            return self.linear(u).squeeze(-1)
        if self.kind == "norm":
            return (u * u).sum(-1).clamp_min(1e-12).sqrt()
        return u.sum(-1)
