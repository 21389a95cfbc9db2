"""Latent-PDE residuals with autograd derivatives in (t, y) — model-agnostic and reusable.

A latent field is any callable ``u_fn(tx) → u`` mapping points ``tx = (t, y)`` ``[N, 1 + d]``
to values ``[N, d_u]`` **row by row** (row ``k`` of the output depends only on row
``k`` of the input; batch any per-point conditioning into the closure).
:func:`field_derivatives` returns, at every point,

- ``u``, ``∂_t u`` ``[N, d_u]``, ``∇_y u`` ``[N, d_u, d]`` and ``Δ_y u = Σ_k ∂²u/∂y_k²`` ``[N, d_u]``,

computed with forward-mode autograd (``torch.func.jvp``: one directional derivative
for ``t`` and one nested pair per ``y_k``), so they stay differentiable with respect
to the model's parameters. ``method="reverse"`` uses ``torch.autograd.grad`` instead
(slower; a cross-check). If ``u_fn`` has a ``jet(tx, order)`` method returning
``(u [N, d_u], ∂u [K, N, d_u], Δ_y u [1, N, d_u])``, first derivatives along the
``K = 1 + d`` axes and the Laplacian in the latent axes (e.g.
:class:`~.operator.BoundOperator`), ``method="auto"`` uses it (much faster).

Residual forms (``F``, ``ν`` are learned right-hand sides evaluated at the same points):

- emergent (Kuramoto):  ``r = ∂_t u − F(t, y, z, u, ∇_y u, Δ_y u)``  (``F`` ``[N, d_u]``)
- Burgers (social):     ``r = ∂_t u + F·(u·∇_y)u − ν Δ_y u``, ``((u·∇)u)_j = Σ_k u_k ∂u_j/∂y_k``
  (``F``, ``ν`` ``[N, 1]``; needs ``d_u = d``)

:func:`pde_residual` also returns ``∇_(t,y) r`` ``[N, d_u, 1 + d]`` taken with the field's
derivatives held fixed (as in the reference implementation): it penalizes the explicit
(t, y)-dependence of the learned right-hand side without third derivatives of ``u``.

How another model reuses it (e.g. a physics-informed DeepONet)::

    def u_fn(tx):                       # rows: (token, time) pairs; cond captured
        return my_operator(tx, cond, coeffs)
    def rhs_fn(tx, d):                  # emergent: returns F [N, d_u]
        return my_rhs(torch.cat([tx, d.u, d.grad_y.flatten(1), d.lap_y], -1))
    out = pde_residual(u_fn, rhs_fn, tx, form="emergent")
    # fast path: u_fn = BoundOperator(latent_operator, cond, coeffs) (has .jet); rhs_fn may
    # expose .jet(tx, d) -> (value, tangents [K, N, ·]) (pairs of both for Burgers)
    loss = w_pde * out.residual.square().mean() + w_gpde * out.gradient.square().mean()
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor
from torch.func import jvp

PDEForm = Literal["emergent", "burgers"]


@dataclass
class FieldDerivatives:
    """A latent field and its derivatives at ``N`` points (shapes in the module docstring)."""

    u: Tensor
    u_t: Tensor
    grad_y: Tensor
    lap_y: Tensor


@dataclass
class PDEResidual:
    """``residual`` ``[N, d_u]``, its explicit gradient ``[N, d_u, 1 + d]`` (or None), derivatives."""

    residual: Tensor
    gradient: Tensor | None
    derivatives: FieldDerivatives


def _direction(tx: Tensor, k: int) -> Tensor:
    e = torch.zeros_like(tx)
    e[:, k] = 1.0
    return e


Method = Literal["auto", "jet", "forward", "reverse"]


def derivatives_from_jet(u: Tensor, du: Tensor, lap: Tensor) -> FieldDerivatives:
    """Assemble :class:`FieldDerivatives` from first derivatives ``du`` ``[K, N, d_u]`` along
    ``(t, y)`` (axis 0 = t) and the latent Laplacian ``lap`` ``[1, N, d_u]``."""
    if lap.shape[0] != 1:
        raise ValueError(
            f"a jet's second-order part is the latent Laplacian [1, N, d_u], got "
            f"{lap.shape[0]} second-order tangents"
        )
    return FieldDerivatives(u=u, u_t=du[0], grad_y=du[1:].permute(1, 2, 0), lap_y=lap[0])


def field_derivatives(
    u_fn: Callable[[Tensor], Tensor], tx: Tensor, method: Method = "auto"
) -> FieldDerivatives:
    """``u``, ``∂_t u``, ``∇_y u``, ``Δ_y u`` of a row-wise field at points ``tx`` ``[N, 1 + d]``."""
    if tx.dim() != 2 or tx.shape[1] < 2:
        raise ValueError(f"tx: expected [N, 1 + d] with d ≥ 1, got {tuple(tx.shape)}")
    if method == "auto":
        method = "jet" if hasattr(u_fn, "jet") else "forward"
    if method == "jet":
        return derivatives_from_jet(*u_fn.jet(tx, 2))
    if method == "reverse":
        return _reverse_derivatives(u_fn, tx)
    d = tx.shape[1] - 1
    u, u_t = jvp(u_fn, (tx,), (_direction(tx, 0),))
    grads, lap = [], torch.zeros_like(u)
    for k in range(1, d + 1):
        e_k = _direction(tx, k)

        def directional(x: Tensor, e_k: Tensor = e_k) -> Tensor:
            return jvp(u_fn, (x,), (e_k,))[1]

        first, second = jvp(directional, (tx,), (e_k,))
        grads.append(first)
        lap = lap + second
    return FieldDerivatives(u=u, u_t=u_t, grad_y=torch.stack(grads, dim=-1), lap_y=lap)


def _reverse_derivatives(u_fn: Callable[[Tensor], Tensor], tx: Tensor) -> FieldDerivatives:
    x = tx if tx.requires_grad else tx.detach().requires_grad_(True)
    u = u_fn(x)
    d = x.shape[1] - 1
    jac = []  # per component j: [N, 1 + d]
    for j in range(u.shape[1]):
        (g,) = torch.autograd.grad(u[:, j].sum(), x, create_graph=True)
        jac.append(g)
    J = torch.stack(jac, dim=1)  # [N, d_u, 1 + d]
    lap = torch.zeros_like(u)
    for j in range(u.shape[1]):
        for k in range(1, d + 1):
            (h,) = torch.autograd.grad(J[:, j, k].sum(), x, create_graph=True)
            lap[:, j] = lap[:, j] + h[:, k]
    return FieldDerivatives(u=u, u_t=J[:, :, 0], grad_y=J[:, :, 1:], lap_y=lap)


def advection(d: FieldDerivatives) -> Tensor:
    """``(u·∇_y)u`` ``[N, d_u]``: ``Σ_k u_k ∂u_j/∂y_k`` (requires ``d_u = d``)."""
    if d.grad_y.shape[1] != d.grad_y.shape[2]:
        raise ValueError(
            f"Burgers advection needs as many field components as latent coordinates, "
            f"got d_u={d.grad_y.shape[1]}, d={d.grad_y.shape[2]}"
        )
    return torch.einsum("nk,njk->nj", d.u, d.grad_y)


def emergent_residual(d: FieldDerivatives, rhs: Tensor) -> Tensor:
    """``r = ∂_t u − F`` with ``F`` ``[N, d_u]`` (or ``[N, 1]``, broadcast)."""
    return d.u_t - rhs


def burgers_residual(d: FieldDerivatives, coefficient: Tensor, viscosity: Tensor) -> Tensor:
    """``r = ∂_t u + F·(u·∇_y)u − ν Δ_y u`` with ``F``, ``ν`` ``[N, 1]`` (or scalars)."""
    return d.u_t + coefficient * advection(d) - viscosity * d.lap_y


def form_residual(
    form: PDEForm, d: FieldDerivatives, rhs: Tensor | tuple[Tensor, Tensor]
) -> Tensor:
    """Dispatch on ``form``: emergent takes ``F``; Burgers takes ``(F, ν)``."""
    if form == "emergent":
        if isinstance(rhs, tuple):
            raise TypeError("the emergent form takes one right-hand side tensor F")
        return emergent_residual(d, rhs)
    if form == "burgers":
        if not isinstance(rhs, tuple) or len(rhs) != 2:
            raise TypeError("the burgers form takes a pair (F, nu)")
        return burgers_residual(d, *rhs)
    raise ValueError(f"unknown PDE form {form!r}; expected 'emergent' or 'burgers'")


def pde_residual(
    u_fn: Callable[[Tensor], Tensor],
    rhs_fn: Callable[[Tensor, FieldDerivatives], Tensor | tuple[Tensor, Tensor]],
    tx: Tensor,
    form: PDEForm = "emergent",
    with_gradient: bool = True,
    method: Method = "auto",
) -> PDEResidual:
    """Residual of the latent PDE at ``tx`` and (optionally) its explicit ``∇_(t,y)``.

    ``rhs_fn(tx, derivatives)`` returns ``F`` (emergent) or ``(F, ν)`` (Burgers), row-wise.
    """
    d = field_derivatives(u_fn, tx, method)
    if with_gradient and method != "forward" and hasattr(rhs_fn, "jet"):
        value, tangent = rhs_fn.jet(tx, d)
        residual = form_residual(form, d, value)
        if form == "emergent":
            grad = -tangent  # [K, N, d_u]
        else:
            grad = tangent[0] * advection(d) - tangent[1] * d.lap_y
        return PDEResidual(residual, grad.permute(1, 2, 0), d)

    def residual_at(x: Tensor) -> Tensor:
        return form_residual(form, d, rhs_fn(x, d))

    if not with_gradient:
        return PDEResidual(residual_at(tx), None, d)
    residual, grads = None, []
    for k in range(tx.shape[1]):
        residual, g = jvp(residual_at, (tx,), (_direction(tx, k),))
        grads.append(g)
    return PDEResidual(residual, torch.stack(grads, dim=-1), d)
