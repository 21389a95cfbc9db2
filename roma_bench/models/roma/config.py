"""ROMA's validated configuration and named sizes.

Field names follow the reference implementation's flags (``nngabe/roma`` ``config.py``)
where one exists, so a reference configuration is reproduced with ``--set`` overrides:

================  ===========================  =========================================
ours              reference flag               meaning
================  ===========================  =========================================
lookback          kappa                        history frames fed to the model (κ)
le_size/rw_size   pe_dim (le_size, rw_size)    positional-encoding channels per type
pe_embed_dim      pe_embed_dim                 linear embedding size per encoding type
enc_width/depth   enc_width / enc_depth        hyperbolic precoder
pool_*            pool_width/depth/steps/...   learned coarse-graining (renormalization)
dec_width/depth   dec_width / dec_depth        transformer branch width and depth
trunk_width       2·dec_width (implicit)       trunk hidden width (−1: 2·dec_width)
trunk_depth       dec_depth + 1 (implicit)     trunk hidden layers (−1: dec_depth + 1)
p_basis           p_basis                      DeepONet basis size p
coord_dim         coord_dim                    Fourier features of (t, y) in the trunk
x_dim             x_dim                        latent coordinates y (and components of u)
num_heads         num_heads                    attention heads
num_func          num_func                     lifting functions applied to the history
c, r, t           c, r, t                      curvature; Fermi–Dirac chemical potential, temp.
learn_rt          (r, t trainable)             r and t learned from their initial values
w_pool_s/a/link   w_pool (3 values)            entropy of S, entropy of SᵀAS, link loss
================  ===========================  =========================================
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from roma_bench.config import StrictModel


class RomaConfig(StrictModel):
    """Every width/depth knob and loss weight of ROMA (see the module table for names)."""

    backend: Literal["auto", "dgl", "torch"] = Field(
        "auto", description="message-passing kernels: DGL where it supports the device, or torch"
    )
    # inputs
    lookback: int = Field(-1, ge=-1, description="history frames used (−1: the task's lookback)")
    le_size: int = Field(-1, ge=-1, description="Laplacian-eigenvector channels (−1: task's)")
    rw_size: int = Field(-1, ge=-1, description="random-walk-encoding channels (−1: task's)")
    pe_embed_dim: int = Field(96, ge=1, description="linear embedding size per encoding type")
    # hyperbolic precoder
    c: float = Field(1 / 8, gt=0, description="curvature of the Poincaré ball")
    enc_width: int = Field(512, ge=1)
    enc_depth: int = Field(1, ge=1)
    mlp_factor: int = Field(4, ge=1, description="hidden width factor of edge/aggregation MLPs")
    # renormalization
    r: float = Field(0.5, description="Fermi–Dirac chemical potential r")
    t: float = Field(3.0, gt=0, description="Fermi–Dirac temperature t")
    learn_rt: bool = Field(True, description="learn r and t (reference); False: keep them fixed")
    neg_ratio: int = Field(1, ge=1, description="sampled non-edges per edge in the link loss")
    pool_width: int = Field(1024, ge=1, description="hidden width of pooling networks")
    pool_depth: int = Field(1, ge=1)
    pool_steps: int = Field(1, ge=0, description="coarse-graining levels (0: no supernodes)")
    pool_init_size: int = Field(64, ge=1, description="supernodes m at the first level")
    pool_red: int = Field(2, ge=1, description="reduction of m at each further level")
    # multiscale attention (branch)
    dec_width: int = Field(1024, ge=1)
    dec_depth: int = Field(7, ge=1)
    num_heads: int = Field(8, ge=1)
    ffn_factor: int = Field(4, ge=1, description="transformer MLP width = ffn_factor·dec_width")
    num_func: int = Field(128, ge=1, description="lifting functions applied to the history")
    lift_length_scale: float = Field(1.0, gt=0, description="length scale of the lifting GRF")
    index_size: int = Field(512, ge=1, description="rows of the fine-token index embedding")
    use_lifted: bool = True
    use_context: bool = True
    use_index: bool = True
    use_scale: bool = True
    dropout: float = Field(0.0, ge=0, lt=1)
    # operator heads
    p_basis: int = Field(2048, ge=1)
    coord_dim: int = Field(2048, ge=2, description="Fourier features of (t, y), even")
    x_dim: int = Field(3, ge=1, description="latent coordinate dimension (and of u)")
    trunk_width: int = Field(-1, ge=-1, description="−1: 2·dec_width")
    trunk_depth: int = Field(-1, ge=-1, description="−1: dec_depth + 1")
    t_freq_std: float = Field(0.5, gt=0, description="std of the trunk's time frequencies")
    y_freq_std: float = Field(0.5, gt=0, description="std of the trunk's latent frequencies")
    nonlinear: bool = Field(False, description="NOMAD decoder instead of DeepONet's inner product")
    reduction: Literal["linear", "norm", "sum"] = "linear"
    # effective dynamics
    pde: Literal["auto", "emergent", "burgers"] = Field(
        "auto", description="auto: emergent for kuramoto, burgers for social"
    )
    pde_context: bool = Field(True, description="PDE operator has its own context embedding")
    # loss weights
    w_pde: float = Field(1.0, ge=0)
    w_gpde: float = Field(
        -1.0, ge=-1, description="gradient penalty (−1: 1/t_freq_std², so w_gpde·σ_t² = 1)"
    )
    w_ms: float = Field(1.0, ge=0)
    w_pool_s: float = Field(1e-2, ge=0, description="entropy of the assignment S")
    w_pool_a: float = Field(1e-3, ge=0, description="entropy of the coarse adjacency SᵀAS")
    w_link: float = Field(1e-1, ge=0, description="Fermi–Dirac link loss")

    @model_validator(mode="after")
    def _check(self) -> RomaConfig:
        if self.coord_dim % 2:
            raise ValueError(f"coord_dim must be even (sin and cos halves), got {self.coord_dim}")
        if self.dec_width % self.num_heads:
            raise ValueError(
                f"dec_width ({self.dec_width}) must be divisible by num_heads ({self.num_heads})"
            )
        return self

    @property
    def trunk_hidden(self) -> int:
        return self.trunk_width if self.trunk_width > 0 else 2 * self.dec_width

    @property
    def trunk_layers(self) -> int:
        return self.trunk_depth if self.trunk_depth > 0 else self.dec_depth + 1

    @property
    def pool_sizes(self) -> list[int]:
        """Supernodes per level: ``pool_init_size // pool_red**l`` for ``l < pool_steps``."""
        return [
            max(self.pool_init_size // self.pool_red**level, 1) for level in range(self.pool_steps)
        ]

    @property
    def embed_dim(self) -> int:
        """Size of the precoder embedding: the concatenated layer outputs."""
        return self.enc_width * self.enc_depth


_REFERENCE = {
    "enc_width": 512,
    "enc_depth": 1,
    "pool_width": 1024,
    "pool_init_size": 64,
    "dec_depth": 7,
    "num_heads": 8,
    "p_basis": 2048,
    "coord_dim": 2048,
    "num_func": 128,
    "le_size": 512,
    "rw_size": 512,
    "pe_embed_dim": 96,
    "lookback": 64,
    "index_size": 512,
}

SIZES: dict[str, dict[str, Any]] = {
    # ≈150k parameters on every tiny card, like every learned baseline's ``tiny``
    # (tests/baselines/test_tiny_parameter_budget.py).
    "tiny": {
        "enc_width": 16,
        "pool_width": 16,
        "pool_init_size": 16,
        "dec_width": 36,
        "dec_depth": 2,
        "num_heads": 4,
        "p_basis": 16,
        "coord_dim": 16,
        "num_func": 4,
        "pe_embed_dim": 8,
        "index_size": 128,
    },
    "small": {
        "enc_width": 128,
        "pool_width": 256,
        "pool_init_size": 64,
        "dec_width": 256,
        "dec_depth": 4,
        "num_heads": 8,
        "p_basis": 256,
        "coord_dim": 256,
        "num_func": 16,
        "pe_embed_dim": 32,
    },
    "B": {**_REFERENCE, "dec_width": 1024},
    "L": {**_REFERENCE, "dec_width": 2048},
    "H": {**_REFERENCE, "dec_width": 2560, "p_basis": 2560},
}

# The ≈3M-parameter configuration the reference JAX code was timed at (benchmarks/roma_step.py).
ANCHOR: dict[str, Any] = {
    "enc_width": 64,
    "dec_width": 128,
    "dec_depth": 3,
    "p_basis": 128,
    "coord_dim": 128,
    "pool_width": 128,
    "num_heads": 4,
    "num_func": 16,
    "le_size": 16,
    "rw_size": 16,
    "pe_embed_dim": 16,
    "lookback": 64,
    "pool_steps": 1,
    "pool_init_size": 64,
}
