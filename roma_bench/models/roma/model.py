"""ROMA: Renormalized Operators with Multiscale Attention (registered as ``roma``).

Forward pass for a batch of ``n`` nodes, lookback κ, horizon H:

1. **Inputs** (the harness's, like every learned model's): the normalized history
   ``ũ_i = (h_i − h_{i,t0})/s`` ``[n, κ]``, its scaled backward differences ``[n, p]`` and the
   offset-free state ``[n, S]``, read through
   :func:`roma_bench.models.inputs.node_inputs`; the model returns normalized increments
   ``ŷ`` and the harness decodes ``h_t0 + s·ŷ`` (:mod:`roma_bench.training.normalization`).
   A model lookback longer than the batch's is left-padded with the first frame (shorter:
   the latest frames are kept); encodings are cropped or zero-padded per type.
2. **Precoder** (:class:`~.encoder.Precoder`): hyperbolic embedding ``z`` ``[n, D]`` of
   ``[ũ, differences, state]``.
3. **Renormalization**: Fermi–Dirac link loss on ``exp₀(z)``; learned coarse-graining
   gives supernode tokens (:mod:`.renorm`).
4. **Multiscale attention** over fine + supernode tokens gives branch coefficients
   ``b`` ``[p, x_dim]`` per token (:mod:`.attention`).
5. **Operator head**: ``u(τ, y)`` by DeepONet/NOMAD with trunk over ``[φ(τ, y), z]``;
   ``ŷ_ik = R(u_i(τ_k, 0))`` at the relative target times ``τ_k = k`` (frames).
6. **Effective dynamics** (:class:`~.latent_pde.LatentPDE`, the module the ``-pi``
   baselines share): a second operator conditioned on ``z`` and the branch coefficients
   (from its own context embedding when ``pde_context``) gives the latent PDE's right-hand
   side; residual ``r`` at the same points (:func:`~.latent_pde.supervised_points`). It is
   computed in training when a PDE weight is > 0 and always in evaluation.

7. **Coarse head** (effective learning task only, :mod:`.coarse_head`): the card's coarse
   observables ``[m, H, C]`` read out from the supernodes' branch coefficients through the
   learned assignment (``ModelOutput.coarse_prediction``); other models average their fine
   forecast over the card's partition.

Auxiliary losses (already weighted): ``pde = w_pde·mean(r²)``, ``gpde = w_gpde·mean(|∇r|²)``
(default ``w_gpde = 1/σ_t²``, :func:`~.latent_pde.gradient_penalty_weight`),
``pool_entropy_s = w_ms·w_pool_s·Σ_l H_S``, ``pool_entropy_a = w_ms·w_pool_a·Σ_l H_A``,
``link = w_ms·w_link·L_link``. The trainer adds the data loss (MSE of the normalized
targets by default).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.nn import functional as F

from roma_bench.data.batch import Batch
from roma_bench.models.base import ForecastModel, ModelOutput, TaskSpec
from roma_bench.models.inputs import feature_width, node_inputs
from roma_bench.models.roma.attention import (
    MultiscaleTransformer,
    TokenEmbedding,
    coarse_fine_summary,
)
from roma_bench.models.roma.coarse_head import CoarseHead
from roma_bench.models.roma.config import SIZES, RomaConfig
from roma_bench.models.roma.encoder import Precoder
from roma_bench.models.roma.latent_pde import (
    LatentPDE,
    gradient_penalty_weight,
    pde_loss_terms,
    residual_wanted,
    supervised_points,
)
from roma_bench.models.roma.manifold import PoincareBall
from roma_bench.models.roma.operator import (
    BoundOperator,
    FourierFeatures,
    LatentOperator,
    Reduction,
)
from roma_bench.models.roma.renorm import CoarseGraining, FermiDiracDecoder
from roma_bench.registry import register_model


@register_model("roma")
class Roma(ForecastModel):
    """ROMA (see the module docstring); ``Config`` = :class:`RomaConfig`, sizes tiny…H."""

    Config: ClassVar[type[RomaConfig]] = RomaConfig
    SIZES: ClassVar[dict[str, dict[str, Any]]] = SIZES

    def __init__(self, config: RomaConfig, spec: TaskSpec) -> None:
        super().__init__(config, spec)
        cfg = config
        self.lookback = cfg.lookback if cfg.lookback > 0 else spec.lookback
        self.pe_sizes = (
            cfg.le_size if cfg.le_size >= 0 else spec.encoding_sizes[0],
            cfg.rw_size if cfg.rw_size >= 0 else spec.encoding_sizes[1],
        )
        self.pde_form = (
            cfg.pde
            if cfg.pde != "auto"
            else ("emergent" if spec.system == "kuramoto" else "burgers")
        )
        ball = PoincareBall(cfg.c)
        self.precoder = Precoder(
            self.lookback + feature_width(spec),
            self.pe_sizes,
            cfg.pe_embed_dim,
            cfg.enc_width,
            cfg.enc_depth,
            ball,
            cfg.mlp_factor,
        )
        embed = self.precoder.out_dim
        self.link = FermiDiracDecoder(ball, cfg.r, cfg.t, cfg.neg_ratio, cfg.learn_rt)
        self.pool = CoarseGraining(
            embed, cfg.pool_sizes, cfg.pool_width, cfg.pool_depth, ball, cfg.mlp_factor
        )
        self.tokens = TokenEmbedding(
            self.lookback,
            cfg.num_func,
            embed,
            cfg.index_size,
            cfg.pool_sizes,
            cfg.lift_length_scale,
            1 + int(cfg.pde_context),
            cfg.use_lifted,
            cfg.use_context,
            cfg.use_index,
            cfg.use_scale,
        )
        x_dim, p = cfg.x_dim, cfg.p_basis
        self.branch = MultiscaleTransformer(
            self.tokens.dim,
            p * x_dim,
            cfg.dec_width,
            cfg.dec_depth,
            cfg.num_heads,
            cfg.ffn_factor,
            cfg.dropout,
        )
        # the effective task's own coarse head (needs supernodes; else the harness averages)
        self.coarse_head = (
            CoarseHead(p * x_dim, spec.coarse_channels, spec.horizon)
            if spec.learning_task == "effective" and cfg.pool_steps > 0
            else None
        )
        fourier = FourierFeatures(x_dim, cfg.coord_dim, cfg.t_freq_std, cfg.y_freq_std)
        width, layers = cfg.trunk_hidden, cfg.trunk_layers
        self.decoder = LatentOperator(fourier, embed, p, x_dim, x_dim, width, layers, cfg.nonlinear)
        self.reduction = Reduction(cfg.reduction, x_dim)
        self.latent_pde = LatentPDE(
            self.pde_form, fourier, embed, p, x_dim, width, layers, cfg.nonlinear
        )

    # ---------------------------------------------------------------- inputs
    def _inputs(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Normalized history ``[n, model κ]`` (cropped or left-padded) and the per-node
        features after it, differences then state ``[n, p + S]``."""
        inputs = node_inputs(batch)
        h, state = inputs[:, : batch.lookback], inputs[:, batch.lookback :]
        if h.shape[1] >= self.lookback:
            return h[:, h.shape[1] - self.lookback :], state
        pad = h[:, :1].expand(-1, self.lookback - h.shape[1])
        return torch.cat([pad, h], dim=1), state

    def _encodings(self, batch: Batch) -> tuple[Tensor, Tensor]:
        sizes = batch.encoding_sizes if sum(batch.encoding_sizes) else self.spec.encoding_sizes
        enc = batch.encodings
        if enc.shape[1] != sum(sizes):
            raise ValueError(
                f"Batch.encodings: {enc.shape[1]} channels, but encoding_sizes says {tuple(sizes)}"
            )
        parts = enc.split(list(sizes), dim=1)
        out = []
        for part, want in zip(parts, self.pe_sizes):
            if part.shape[1] >= want:
                out.append(part[:, :want])
            else:
                out.append(F.pad(part, (0, want - part.shape[1])))
        return out[0], out[1]

    # ---------------------------------------------------------------- forward
    def forward(self, batch: Batch) -> ModelOutput:
        return self._run(batch, need_weights=False)[0]

    def attention_maps(self, batch: Batch) -> tuple[list[Tensor], dict[str, Tensor]]:
        """Per-layer attention maps ``[heads, T, T]`` and the coarse↔fine summary (no grad)."""
        with torch.no_grad():
            _, maps, n = self._run(batch, need_weights=True)
        return maps, coarse_fine_summary(maps, n)

    def multiscale_view(self, batch: Batch) -> tuple[Tensor, Tensor | None, list[Tensor]]:
        """What the multiscale study draws, without grad (call on a normalized batch).

        Returns the precoder's nodes on the Poincaré ball ``exp₀(z)`` ``[n, D]``, the
        first level's soft assignment ``S`` ``[n, m₁]`` (columns sum to 1; ``None`` without
        pooling) and the per-layer attention maps ``[heads, T, T]`` (tokens: ``n`` fine,
        then the supernodes level by level).
        """
        with torch.no_grad():
            history, z = self._embed(batch)
            coarse = self.pool(batch.graph, z, history, self.config.backend)
            _, maps, _ = self._run(batch, need_weights=True)
        assignment = coarse.assignments[0] if coarse.assignments else None
        return self.link.ball.expmap0(z), assignment, maps

    def _embed(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The model history ``[n, κ]`` and the precoder's tangent embedding ``z`` ``[n, D]``."""
        history, state = self._inputs(batch)
        le, rw = self._encodings(batch)
        x = torch.cat([history, state], dim=1)
        return history, self.precoder(batch.graph, x, le, rw, self.config.backend)

    def _run(self, batch: Batch, need_weights: bool) -> tuple[ModelOutput, list[Tensor], int]:
        cfg = self.config
        graph, backend = batch.graph, cfg.backend
        history, z = self._embed(batch)
        n, H = history.shape[0], self.spec.horizon

        aux: dict[str, Tensor] = {}
        diag: dict[str, Tensor] = {}
        if cfg.w_ms * cfg.w_link > 0:
            link = self.link.loss(graph, z)
            aux["link"] = cfg.w_ms * cfg.w_link * link
            diag["link_loss"] = link.detach()
        coarse = self.pool(graph, z, history, backend)
        if coarse.assignments:
            ent_s, ent_a = sum(coarse.entropy_s), sum(coarse.entropy_a)
            aux["pool_entropy_s"] = cfg.w_ms * cfg.w_pool_s * ent_s
            aux["pool_entropy_a"] = cfg.w_ms * cfg.w_pool_a * ent_a
            diag["entropy_s"], diag["entropy_a"] = ent_s.detach(), ent_a.detach()

        histories = torch.cat([history, *coarse.histories], dim=0)
        contexts = torch.cat([z, *coarse.features], dim=0)
        level_sizes = [n] + [f.shape[0] for f in coarse.features]
        tokens = self.tokens(histories, contexts, level_sizes, context=0)
        all_coeffs, maps = self.branch(tokens, need_weights)
        coeffs = all_coeffs[:n]
        coarse_prediction = None
        if self.coarse_head is not None and batch.state is not None:
            m1 = level_sizes[1]
            coarse_prediction = self.coarse_head(
                coarse.assignments[0], all_coeffs[n : n + m1], batch.state,
                batch.coarse_assignment, batch.num_parts,
            )  # fmt: skip

        # points (τ_k, y = 0) for every fine node and target step, node-major
        tx = supervised_points(n, H, cfg.x_dim, z.dtype, z.device)
        cond = z.repeat_interleave(H, dim=0)
        coeffs_rep = coeffs.repeat_interleave(H, dim=0)

        u_fn = BoundOperator(self.decoder, cond, coeffs_rep)
        w_gpde = gradient_penalty_weight(cfg.w_gpde, cfg.t_freq_std)
        if residual_wanted(self, cfg.w_pde, w_gpde):  # a loss, or the evaluation diagnostic
            if cfg.pde_context:
                pde_tokens = self.tokens(histories, contexts, level_sizes, context=1)
                pde_coeffs = self.branch(pde_tokens)[0][:n].repeat_interleave(H, dim=0)
            else:
                pde_coeffs = coeffs_rep
            result = self.latent_pde.residual(u_fn, tx, cond, pde_coeffs, with_gradient=w_gpde > 0)
            u = result.derivatives.u
            pde_aux, pde_diag = pde_loss_terms(result, cfg.w_pde, w_gpde)
            aux.update(pde_aux)
            diag.update(pde_diag)
        else:
            u = u_fn(tx)
        increments = self.reduction(u).view(n, H)
        output = ModelOutput(
            prediction=increments,
            coarse_prediction=coarse_prediction,
            aux_losses=aux,
            diagnostics=diag,
        )
        return output, maps, n
