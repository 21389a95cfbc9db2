"""ROMA end to end: forward contract, backends, checkpoints, sizes and the `models` CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from graph_doubles import requires_dgl
from roma_helpers import behind_harness, make_batch, make_spec

from roma_bench.cli import main
from roma_bench.config import ConfigError
from roma_bench.models.base import load_checkpoint, save_checkpoint
from roma_bench.models.roma.latent_pde import gradient_penalty_weight
from roma_bench.registry import build_model, get_model_class

SMALL = {"pool_init_size": 4, "index_size": 16}


def run(model, batch, seed: int = 0):
    torch.manual_seed(seed)  # the link loss samples non-edges
    return behind_harness(model)(batch)


@pytest.mark.parametrize("system", ["kuramoto", "social"])
def test_forward_contract(system: str) -> None:
    spec = make_spec(system)
    torch.manual_seed(0)
    model = build_model("roma", spec, "tiny", SMALL)
    assert model.pde_form == ("emergent" if system == "kuramoto" else "burgers")
    batch = make_batch(spec)
    out = run(model, batch)
    assert out.prediction.shape == (40, spec.horizon)
    assert set(out.aux_losses) == {"link", "pool_entropy_s", "pool_entropy_a", "pde", "gpde"}
    assert all(v.dim() == 0 and torch.isfinite(v) for v in out.aux_losses.values())
    assert {"pde_residual", "pde_residual_grad", "entropy_s", "link_loss"} <= set(out.diagnostics)
    cfg = model.config
    assert torch.allclose(out.aux_losses["pde"], cfg.w_pde * out.diagnostics["pde_residual"])
    w_gpde = gradient_penalty_weight(cfg.w_gpde, cfg.t_freq_std)
    assert w_gpde * cfg.t_freq_std**2 == pytest.approx(1.0)  # the default: effective penalty
    assert torch.allclose(out.aux_losses["gpde"], w_gpde * out.diagnostics["pde_residual_grad"])
    loss = out.prediction.square().mean() + sum(out.aux_losses.values())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    # the target is never read: changing it changes nothing
    other = replace(batch, target=torch.randn_like(batch.target) * 1e3)
    assert torch.equal(run(model, other).prediction, out.prediction)


@requires_dgl
def test_dgl_and_torch_backends_give_the_same_output() -> None:
    spec = make_spec()
    torch.manual_seed(0)
    dgl_model = build_model("roma", spec, "tiny", {**SMALL, "backend": "dgl"})
    torch_model = build_model("roma", spec, "tiny", {**SMALL, "backend": "torch"})
    torch_model.load_state_dict(dgl_model.state_dict())
    batch = make_batch(spec, n=60, seed=3)
    a, b = run(dgl_model, batch), run(torch_model, batch)
    assert torch.allclose(a.prediction, b.prediction, atol=1e-4)
    for key in a.aux_losses:
        assert torch.allclose(a.aux_losses[key], b.aux_losses[key], rtol=1e-3, atol=1e-5), key


def test_checkpoint_rebuilds_the_same_model(tmp_path) -> None:
    spec = make_spec("social")
    torch.manual_seed(0)
    model = build_model("roma", spec, "tiny", {**SMALL, "nonlinear": True})
    path = save_checkpoint(model, tmp_path / "roma.safetensors", step=7)
    loaded, extra = load_checkpoint(path)  # safetensors + JSON, no pickle
    assert extra == {"step": 7} and loaded.size == "tiny" and loaded.config == model.config
    batch = make_batch(spec)
    assert torch.equal(run(model.eval(), batch).prediction, run(loaded.eval(), batch).prediction)


def test_lookback_and_encodings_are_adapted() -> None:
    spec = make_spec(lookback=8, enc=(4, 4))
    model = build_model("roma", spec, "tiny", {**SMALL, "lookback": 12, "le_size": 6, "rw_size": 2})
    out = run(model, make_batch(spec))
    assert out.prediction.shape == (40, 2)
    bad = replace(make_batch(spec), encoding_sizes=(5, 4))
    with pytest.raises(ValueError, match="encodings"):
        run(model, bad)


def test_ablations_and_no_pooling() -> None:
    spec = make_spec()
    over = {
        **SMALL,
        "pool_steps": 0,
        "use_context": False,
        "use_index": False,
        "use_scale": False,
        "w_pde": 0.0,
        "w_gpde": 0.0,
        "w_link": 0.0,
        "pde_context": False,
    }
    out = run(build_model("roma", spec, "tiny", over), make_batch(spec))
    assert out.aux_losses == {}
    assert out.prediction.shape == (40, 2)


def test_attention_maps_cover_fine_and_supernode_tokens() -> None:
    spec = make_spec()
    model = build_model("roma", spec, "tiny", SMALL)
    normalized = behind_harness(model).normalization.normalize(make_batch(spec))
    maps, summary = model.attention_maps(normalized)
    cfg = model.config
    assert len(maps) == cfg.dec_depth
    assert maps[0].shape == (cfg.num_heads, 40 + 4, 40 + 4)
    assert torch.allclose(maps[0].sum(-1), torch.ones(cfg.num_heads, 44), atol=1e-5)
    assert summary["fine_to_coarse"].shape == (cfg.dec_depth, cfg.num_heads)


def test_multiscale_view_gives_ball_points_assignments_and_maps() -> None:
    spec = make_spec()
    model = build_model("roma", spec, "tiny", SMALL)
    normalized = behind_harness(model).normalization.normalize(make_batch(spec))
    points, assignment, maps = model.multiscale_view(normalized)
    assert points.shape == (40, model.precoder.out_dim)
    assert float((model.link.ball.c * (points * points).sum(-1)).max()) < 1  # inside the ball
    assert assignment.shape == (40, 4)
    assert torch.allclose(
        assignment.sum(0), torch.ones(4), atol=1e-5
    )  # a distribution per supernode
    assert len(maps) == model.config.dec_depth and maps[0].shape[-1] == 44


def test_bad_config_is_rejected() -> None:
    cls = get_model_class("roma")
    with pytest.raises(ConfigError, match="num_heads"):
        cls.make_config(make_spec(), "tiny", ["dec_width=30", "num_heads=4"])
    with pytest.raises(ConfigError, match="unknown key"):
        cls.make_config(make_spec(), "tiny", ["dec_widht=32"])


REFERENCE = {"B": 264e6, "L": 738e6, "H": 1.1e9}


def test_sizes_match_the_paper_on_km_3m() -> None:
    from roma_bench.cards import load_card
    from roma_bench.data.spec import task_spec

    spec = task_spec(load_card("km-3m"))
    cls = get_model_class("roma")
    counts = {}
    for size in cls.SIZES:
        with torch.device("meta"):
            counts[size] = cls.from_spec(spec, size).num_parameters()
    assert counts["tiny"] <= 2_000_000
    assert counts["tiny"] < counts["small"] < counts["B"] < counts["L"] < counts["H"]
    for size, ref in REFERENCE.items():
        assert abs(counts[size] / ref - 1) < 0.10, (size, counts[size])


def test_models_cli_json(capsys) -> None:
    assert main(["models", "--task", "km-3m", "--model", "roma", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["size"] for r in rows] == ["tiny", "small", "B", "L", "H"]
    assert all(set(r) == {"name", "size", "params"} and r["name"] == "roma" for r in rows)
    assert (
        main(
            [
                "models",
                "--task",
                "km-3m",
                "--model",
                "roma",
                "--size",
                "B",
                "--set",
                "dec_width=2048",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)[0]["params"] == rows[3]["params"]
    assert main(["models", "--task", "km-3m", "--model", "roma", "--set", "nope=1"]) == 2
    assert "nope" in capsys.readouterr().err
