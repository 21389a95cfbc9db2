"""The attention study's bookkeeping: midpoints, plot data, files (no training)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from roma_bench.models.roma.manifold import PoincareBall
from roma_bench.studies.attention import attention_data, gyromidpoint, write_outputs
from roma_bench.studies.common import read_csv, study_files


@pytest.mark.parametrize("c", [1.0, 1 / 8])
def test_gyromidpoint_of_the_origin_and_a_point_is_halfway_along_the_geodesic(c):
    """c = 1: the midpoint of 0 and 0.5 is tanh(artanh(0.5)/2) = 2 − √3; the ball scales by 1/√c."""
    ball, r = PoincareBall(c), c**-0.5
    x = torch.tensor([[0.0, 0.0], [0.5 * r, 0.0]], dtype=torch.float64)
    mid = gyromidpoint(ball, x, torch.tensor([[1.0], [1.0]], dtype=torch.float64))
    assert mid[0].tolist() == pytest.approx([(2 - math.sqrt(3)) * r, 0.0], abs=1e-12)
    half = ball.dist(x[1], x[0]) / 2
    assert float(ball.dist(mid[0], x[0])) == pytest.approx(float(half))
    assert float(ball.dist(mid[0], x[1])) == pytest.approx(float(half))


def test_gyromidpoint_weights_one_point_and_symmetric_pairs():
    ball = PoincareBall(1 / 8)
    x = torch.tensor([[1.0, 0.5], [-1.0, -0.5], [0.3, -2.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    mid = gyromidpoint(ball, x, w)
    assert mid.shape == (2, 2)
    assert mid[0].tolist() == pytest.approx([0.0, 0.0], abs=1e-12)  # ±x, equal weights
    assert mid[1].tolist() == pytest.approx([0.3, -2.0])  # all the weight on one point


def synthetic(n=6, m=2, d=3, layers=2, heads=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ball = PoincareBall(1 / 8)
    points = ball.expmap0(torch.randn(n, d, generator=gen, dtype=torch.float64))
    assignment = torch.softmax(torch.randn(n, m, generator=gen, dtype=torch.float64), 1)
    maps = [
        torch.softmax(torch.randn(heads, n + m, n + m, generator=gen), -1) for _ in range(layers)
    ]
    edges = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
    return ball, points, assignment, maps, edges


def test_plot_data_shapes_and_values():
    ball, points, assignment, maps, edges = synthetic()
    data = attention_data(ball, points, assignment, maps, edges)
    assert data.distance.shape == data.fine_to_coarse.shape == data.coarse_to_fine.shape == (6, 2)
    assert data.layout.shape == (6, 2) and data.supernode_layout.shape == (2, 2)
    mean = torch.stack(maps).double().mean((0, 1))
    assert data.fine_to_coarse[4, 1] == pytest.approx(float(mean[4, 6 + 1]))
    assert data.coarse_to_fine[4, 1] == pytest.approx(float(mean[6 + 1, 4]))
    mids = gyromidpoint(ball, points, assignment)
    assert data.distance[3, 0] == pytest.approx(float(ball.dist(points[3], mids[0])))
    assert np.all(
        np.linalg.norm(data.layout, axis=1) < data.radius
    ) and data.radius == pytest.approx(math.sqrt(8))
    # projecting the tangent vectors never moves a node away from the centre
    assert np.all(np.linalg.norm(data.layout, axis=1) <= points.norm(dim=1).numpy() + 1e-9)
    with pytest.raises(ValueError, match="need ≥ n \\+ m = 8"):
        attention_data(ball, points, assignment, [m[:, :7, :7] for m in maps], edges)


def test_output_files(tmp_path):
    ball, points, assignment, maps, edges = synthetic()
    data = attention_data(ball, points, assignment, maps, edges)
    files = study_files("attention", "km-x", tmp_path)
    provenance = {"task": "km-x", "task_version": "2.0", "steps": 7, "seed": 0}
    numbers = write_outputs(data, files, provenance, "roma-bench study attention --task km-x")
    frame = read_csv(files.csv)
    assert len(frame) == 6 * 2 and set(frame["steps"]) == {7}
    assert files.csv.read_text().startswith("# command: roma-bench study attention --task km-x\n")
    assert frame["own"].sum() == 6  # one argmax supernode per node
    assert files.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = files.md.read_text()
    assert (
        f"Spearman ρ(distance, fine→supernode attention) = {numbers['rho_fine_to_coarse']:.3f}"
        in text
    )
    assert "6 fine nodes (one held-out test batch), 2 first-level supernodes" in text
    assert "uniform attention over the 8 tokens would be 1/8 = 0.125" in text
    assert set(frame["tokens"]) == {8}
