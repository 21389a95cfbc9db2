"""fno / tfno / gino really run neuralop's classes, without open3d or torch_scatter."""

from __future__ import annotations

import math

import pytest
import torch
from baseline_kit import behind_harness, make_batch, make_spec
from neuralop.models import FNO, GINO, TFNO

from baselines.common import poincare_disk, real_parameter_count
from roma_bench.registry import build_model


@pytest.mark.parametrize(("name", "operator_class"), [("fno", FNO), ("tfno", TFNO), ("gino", GINO)])
def test_wrapper_calls_neuralop(name: str, operator_class: type) -> None:
    model = build_model(name, make_spec())
    operators = [m for m in model.modules() if type(m) is operator_class]
    assert len(operators) == 1, (
        f"{name} must contain exactly one neuralop {operator_class.__name__}"
    )
    calls: list[tuple[int, ...]] = []
    operators[0].register_forward_hook(lambda mod, args, kwargs_or_out: calls.append(()))
    out = behind_harness(model)(make_batch(32)).prediction
    assert calls, f"{name}: neuralop's {operator_class.__name__}.forward was never called"
    assert out.shape == (32, 4)


def test_gino_runs_without_open3d_or_torch_scatter() -> None:
    model = build_model("gino", make_spec())
    gino = next(m for m in model.modules() if isinstance(m, GINO))
    for block in (gino.gno_in, gino.gno_out):
        assert block.neighbor_search.use_open3d is False
        assert block.integral_transform.use_torch_scatter is False


def test_fno_sees_neighbours() -> None:
    """Changing only a neighbour's history changes a node's forecast (the extra channels)."""
    torch.manual_seed(0)
    model = behind_harness(build_model("fno", make_spec()))
    batch = make_batch(24, seed=5)
    src, dst = batch.graph.edges()
    node, neighbour = int(dst[0]), int(src[0])
    before = model(batch).prediction[node]
    batch.history[neighbour] += torch.linspace(0, 3, batch.lookback)
    assert not torch.allclose(model(batch).prediction[node], before)


def test_complex_spectral_weights_count_twice() -> None:
    model = build_model("fno", make_spec())
    complex_numel = sum(p.numel() for p in model.parameters() if p.is_complex())
    assert complex_numel > 0
    assert model.num_parameters() == sum(p.numel() for p in model.parameters()) + complex_numel
    assert real_parameter_count(model) == model.num_parameters()


def test_poincare_disk_map() -> None:
    """``ρ = tanh(r·artanh(0.9)/R)``, ``R = 2 ln N``: the rim r = R lands at ρ = 0.9."""
    n = 2000
    rim = 2 * math.log(n)
    coords = torch.tensor([[0.0, 1.0], [rim, math.pi / 2], [3 * rim, 0.0]])
    points = poincare_disk(coords, n)
    torch.testing.assert_close(points[0], torch.zeros(2))
    torch.testing.assert_close(points[1], torch.tensor([0.0, 0.9]), atol=1e-6, rtol=0)
    assert points.norm(dim=-1).max() < 1.0
