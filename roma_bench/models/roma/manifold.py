"""The Poincaré ball of curvature ``-c`` (ROMA's geometric space).

Convention: the ball is ``B_c = {x ∈ R^d : c‖x‖² < 1}`` (radius ``1/√c``; ROMA uses
``c = 1/8``). All maps act on the last axis and broadcast over the leading ones.

- exponential map at the origin: ``exp₀(v) = tanh(√c‖v‖) v / (√c‖v‖)``
- logarithmic map at the origin: ``log₀(x) = artanh(√c‖x‖) x / (√c‖x‖)``
- Möbius addition:
  ``x ⊕ y = ((1 + 2c⟨x,y⟩ + c‖y‖²) x + (1 − c‖x‖²) y) / (1 + 2c⟨x,y⟩ + c²‖x‖²‖y‖²)``
- Möbius matrix-vector product:
  ``M ⊗ x = tanh(‖Mx‖/‖x‖ · artanh(√c‖x‖)) Mx / (√c‖Mx‖)``  (``= exp₀(M log₀(x))``)
- distance: ``d(x, y) = (2/√c) artanh(√c ‖(−x) ⊕ y‖)``
- projection: rescale any point with ``√c‖x‖ > 1 − ε`` onto the sphere of radius ``(1 − ε)/√c``

Numerical safety: norms are clamped below by ``MIN_NORM``; ``artanh`` arguments are
clamped to ``1 − ε`` with an ε that depends on the dtype; the distance is evaluated in
float64 (the Möbius difference of two nearby points near the boundary cancels badly
in float32) and cast back.
"""

from __future__ import annotations

import torch
from torch import Tensor

MIN_NORM = 1e-15
_BALL_EPS = {torch.float32: 4e-3, torch.float64: 1e-5, torch.float16: 4e-3, torch.bfloat16: 4e-3}


def _eps(x: Tensor) -> float:
    return _BALL_EPS.get(x.dtype, 4e-3)


def _norm(x: Tensor) -> Tensor:
    return x.norm(dim=-1, keepdim=True).clamp_min(MIN_NORM)


def artanh(x: Tensor) -> Tensor:
    """``artanh`` with its argument clamped to ``(−1 + 1e-7, 1 − 1e-7)`` (float64 inside)."""
    x64 = x.double().clamp(-1 + 1e-7, 1 - 1e-7)
    return (0.5 * (torch.log1p(x64) - torch.log1p(-x64))).to(x.dtype)


class PoincareBall:
    """Poincaré ball of curvature ``-c`` (``c > 0``); a stateless collection of maps.

    >>> ball = PoincareBall(1 / 8)
    >>> x = ball.expmap0(torch.randn(4, 3))
    >>> torch.allclose(ball.expmap0(ball.logmap0(x)), x, atol=1e-5)
    True
    """

    def __init__(self, c: float = 1 / 8) -> None:
        if c <= 0:
            raise ValueError(f"curvature c must be > 0, got {c}")
        self.c = float(c)
        self.sqrt_c = self.c**0.5

    def proj(self, x: Tensor) -> Tensor:
        """Project points with ``√c‖x‖ ≥ 1 − ε`` back inside the ball."""
        norm = _norm(x)
        max_norm = (1 - _eps(x)) / self.sqrt_c
        return torch.where(norm > max_norm, x / norm * max_norm, x)

    def expmap0(self, v: Tensor) -> Tensor:
        """Tangent vector at the origin → point of the ball (projected)."""
        norm = _norm(v)
        return self.proj(torch.tanh(self.sqrt_c * norm) * v / (self.sqrt_c * norm))

    def logmap0(self, x: Tensor) -> Tensor:
        """Point of the ball → tangent vector at the origin."""
        norm = _norm(x)
        return artanh(self.sqrt_c * norm) * x / (self.sqrt_c * norm)

    def mobius_add(self, x: Tensor, y: Tensor) -> Tensor:
        """Möbius addition ``x ⊕ y`` (not commutative; ``(−x) ⊕ (x ⊕ y) = y``)."""
        c = self.c
        x2 = (x * x).sum(-1, keepdim=True)
        y2 = (y * y).sum(-1, keepdim=True)
        xy = (x * y).sum(-1, keepdim=True)
        num = (1 + 2 * c * xy + c * y2) * x + (1 - c * x2) * y
        den = 1 + 2 * c * xy + c * c * x2 * y2
        return num / den.clamp_min(MIN_NORM)

    def mobius_matvec(self, weight: Tensor, x: Tensor) -> Tensor:
        """Möbius matrix-vector product ``W ⊗ x`` for ``weight`` ``[d_out, d_in]``, ``x`` ``[..., d_in]``."""
        x_norm = _norm(x)
        mx = x @ weight.transpose(0, 1)
        mx_norm = _norm(mx)
        scale = torch.tanh(mx_norm / x_norm * artanh(self.sqrt_c * x_norm))
        out = scale * mx / (mx_norm * self.sqrt_c)
        zero = (mx == 0).all(dim=-1, keepdim=True)
        return self.proj(torch.where(zero, torch.zeros_like(out), out))

    def dist(self, x: Tensor, y: Tensor) -> Tensor:
        """Geodesic distance ``[...]`` between points ``x``, ``y`` ``[..., d]`` (float64 inside)."""
        x64, y64 = x.double(), y.double()
        diff = PoincareBall.mobius_add(self, -x64, y64)
        diff_norm = (diff * diff).sum(-1).clamp_min(1e-30).sqrt()
        arg = (self.sqrt_c * diff_norm).clamp(max=1 - 1e-12)
        d = 2.0 / self.sqrt_c * 0.5 * (torch.log1p(arg) - torch.log1p(-arg))
        return d.to(x.dtype)

    def sqdist(self, x: Tensor, y: Tensor) -> Tensor:
        """Squared geodesic distance ``d(x, y)²``."""
        return self.dist(x, y) ** 2
