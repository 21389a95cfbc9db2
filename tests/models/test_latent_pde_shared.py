"""ROMA and the ``-pi`` baselines share one latent-PDE module: class, inputs and points.

Also: the default gradient penalty is effective (``w_gpde·σ_t² = 1``) and penalizes exactly a
right-hand side that depends explicitly on (t, y).
"""

from __future__ import annotations

import pytest
import torch
from roma_helpers import behind_harness, make_batch, make_spec

from roma_bench.models.base import forecasts_only
from roma_bench.models.roma.latent_pde import (
    LatentPDE,
    gradient_penalty_weight,
    supervised_points,
)
from roma_bench.models.roma.operator import BoundOperator, FourierFeatures, LatentOperator
from roma_bench.registry import build_model

PDE_MODELS = ["roma", "don-pi", "don-mp-pi", "nomad-mp-pi"]


def _record_residual_calls(monkeypatch) -> list[dict]:
    calls: list[dict] = []
    original = LatentPDE.residual

    def spy(self, field, tx, cond, coeffs, with_gradient):
        calls.append({"module": self, "field": field, "tx": tx, "cond": cond, "coeffs": coeffs})
        return original(self, field, tx, cond, coeffs, with_gradient)

    monkeypatch.setattr(LatentPDE, "residual", spy)
    return calls


@pytest.mark.parametrize("system", ["kuramoto", "social"])
@pytest.mark.parametrize("name", PDE_MODELS)
def test_same_module_inputs_and_points(name: str, system: str, monkeypatch) -> None:
    spec = make_spec(system)
    torch.manual_seed(0)
    model = build_model(name, spec, "tiny")
    assert type(model.latent_pde) is LatentPDE
    assert type(model.latent_pde.rhs) is LatentOperator
    assert model.latent_pde.form == ("emergent" if system == "kuramoto" else "burgers")
    calls = _record_residual_calls(monkeypatch)
    batch = make_batch(spec)
    behind_harness(model).train().run(batch)
    assert len(calls) == 1
    call = calls[0]
    n, H = batch.num_nodes, spec.horizon
    x_dim = call["tx"].shape[1] - 1
    # points: the supervised lead times τ_k = k at the node's own coordinate y = 0
    expected_tx = supervised_points(n, H, x_dim, torch.float32, torch.device("cpu"))
    assert torch.equal(call["tx"], expected_tx)
    assert torch.equal(call["tx"][:H, 0], torch.arange(1.0, H + 1))
    # inputs: the field's coefficients are the model's branch coefficients at those rows,
    # and the right-hand side is conditioned on a per-node representation and coefficients
    field = call["field"]
    assert isinstance(field, BoundOperator)
    cond, coeffs = call["cond"], call["coeffs"]
    assert cond.shape[0] == coeffs.shape[0] == n * H
    per_node = cond.view(n, H, -1)
    assert torch.equal(per_node, per_node[:, :1].expand_as(per_node))  # one z per node
    assert torch.equal(field.coeffs.view(n, H, -1)[:, 0].repeat_interleave(H, 0), field.coeffs)
    if name == "roma":
        z = field.cond.view(n, H, -1)[:, 0]  # the decoder's conditioning: the embedding z
        assert torch.equal(per_node[:, 0], z)
    elif name == "don-pi":  # no graph: z is the branch output itself
        assert torch.equal(cond, coeffs) and torch.equal(coeffs, field.coeffs)
    else:  # the transformer's node tokens, then the branch coefficients
        assert cond.shape[1] == model.config.width
        assert torch.equal(coeffs, field.coeffs)
        tokens, branch = model.represent(model_batch(model, batch))
        assert torch.allclose(cond, tokens.repeat_interleave(H, 0), atol=1e-6)
        assert torch.allclose(coeffs, branch.repeat_interleave(H, 0), atol=1e-6)


def model_batch(model, batch):
    """The normalized batch the model sees behind the harness."""
    return behind_harness(model).normalization.normalize(batch)


@pytest.mark.parametrize("name", PDE_MODELS)
def test_pde_residual_is_reported_in_evaluation_even_without_pde_training(name: str) -> None:
    spec = make_spec()
    model = build_model(name, spec, "tiny", ["w_pde=0", "w_gpde=0"])
    out = behind_harness(model).eval()(make_batch(spec))
    assert not {"pde", "gpde"} & set(out.aux_losses)
    assert torch.isfinite(out.diagnostics["pde_residual"])


@pytest.mark.parametrize("name", PDE_MODELS)
def test_default_gradient_penalty_is_effective(name: str) -> None:
    cfg = build_model(name, make_spec(), "tiny").config
    assert gradient_penalty_weight(cfg.w_gpde, cfg.t_freq_std) * cfg.t_freq_std**2 == 1.0
    assert gradient_penalty_weight(0.0, 0.5) == 0.0 and gradient_penalty_weight(2.0, 0.5) == 2.0


def _weighted_penalty(t_std: float, y_std: float) -> tuple[float, float]:
    """``w_gpde·mean‖∇_(t,y) r‖²`` (default weight) and ``mean F²`` for a random F."""
    torch.manual_seed(0)
    x_dim, p, n = 2, 8, 64
    decoder = LatentOperator(FourierFeatures(x_dim, 16, 0.5, 0.5), 4, p, x_dim, x_dim, 16, 2)
    pde = LatentPDE("emergent", FourierFeatures(x_dim, 16, t_std, y_std), 4, p, x_dim, 16, 2)
    cond, coeffs = torch.randn(n, 4), torch.randn(n, p * x_dim)
    tx = torch.cat([torch.rand(n, 1) * 4, 0.3 * torch.randn(n, x_dim)], dim=1)
    result = pde.residual(BoundOperator(decoder, cond, coeffs), tx, cond, coeffs, True)
    rhs = pde.right_hand_side(cond, coeffs)(tx, result.derivatives)
    w = gradient_penalty_weight(-1.0, 0.5)  # the default for σ_t = 0.5
    return float(w * result.gradient.square().mean()), float(rhs.square().mean())


def test_gradient_penalty_penalizes_explicit_t_dependence_only() -> None:
    explicit, scale = _weighted_penalty(t_std=0.5, y_std=0.0)  # F depends on t through φ(t)
    implicit, _ = _weighted_penalty(t_std=0.0, y_std=0.0)  # F sees only z, u, ∇u, Δu
    assert implicit == 0.0
    # order one relative to F itself: 0.17 here (the former w_gpde = 1e-2 made it 4e-4)
    assert explicit > 0.05 * scale, (explicit, scale)


@pytest.mark.parametrize("name", PDE_MODELS)
def test_forecasts_only_skips_the_evaluation_residual(name: str, monkeypatch) -> None:
    """In evaluation the residual is a diagnostic; a caller that reads forecasts only (the
    validation loss) skips it and gets the same prediction; training still computes it."""
    spec = make_spec("kuramoto")
    torch.manual_seed(0)
    model = behind_harness(build_model(name, spec, "tiny")).eval()
    batch = make_batch(spec)
    calls = _record_residual_calls(monkeypatch)
    with torch.no_grad():
        full = model.run(batch).decoded
        assert len(calls) == 1 and "pde_residual" in full.diagnostics
        with forecasts_only(model):
            with forecasts_only(model):  # nested: the outer block still skips after it
                pass
            fast = model.run(batch).decoded
        assert len(calls) == 1 and "pde_residual" not in fast.diagnostics
        assert torch.allclose(fast.prediction, full.prediction, rtol=1e-5, atol=1e-6)
        assert "pde_residual" in model.run(batch).decoded.diagnostics  # restored after
    model.train()
    with forecasts_only(model):
        model.run(batch)
    assert len(calls) == 3  # training computes the loss term regardless


def test_a_rollout_computes_no_residual_after_the_one_step_forecast(monkeypatch) -> None:
    """Scoring computes the residual once (the one-step forecast's diagnostic); the
    rollout's further calls read predictions only (``forecasts_only``)."""
    from dataclasses import replace

    from roma_bench.training.evaluate import rollout

    spec = make_spec("kuramoto")
    torch.manual_seed(0)
    model = behind_harness(build_model("roma", spec, "tiny")).eval()
    batch = make_batch(spec)
    batch = replace(batch, future=batch.target.repeat(1, 4))  # 4 calls of H frames
    calls = _record_residual_calls(monkeypatch)
    predicted = rollout(model, batch, 4 * spec.horizon)
    assert predicted.shape == (batch.num_nodes, 4 * spec.horizon)
    assert calls == []
    assert "pde_residual" in model(batch).diagnostics and len(calls) == 1
