"""ROMA: Renormalized Operators with Multiscale Attention (registered as ``roma``).

Modules, one concept each: :mod:`.manifold` (Poincaré ball), :mod:`.encoder`
(hyperbolic precoder), :mod:`.renorm` (Fermi–Dirac link decoder, learned
coarse-graining), :mod:`.attention` (multiscale transformer), :mod:`.operator`
(DeepONet/NOMAD heads), :mod:`.pde` (latent-PDE residuals, reusable by any model),
:mod:`.config` (knobs and sizes), :mod:`.model` (the registered model).
"""

from roma_bench.models.roma.config import RomaConfig
from roma_bench.models.roma.model import Roma
from roma_bench.models.roma.pde import (
    FieldDerivatives,
    PDEResidual,
    field_derivatives,
    pde_residual,
)

__all__ = [
    "FieldDerivatives",
    "PDEResidual",
    "Roma",
    "RomaConfig",
    "field_derivatives",
    "pde_residual",
]
