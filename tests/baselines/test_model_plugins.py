"""An outside package adds a model through the ``roma_bench.models`` entry point."""

from __future__ import annotations

import importlib
import sys
import textwrap

import torch
from baseline_kit import behind_harness, make_batch, make_spec

from roma_bench import registry

PLUGIN = '''
"""A model living outside roma-bench."""

import torch

from roma_bench.models.base import ForecastModel, ModelOutput
from roma_bench.registry import register_model


@register_model("plugin-mean")
class NeighbourlessMean(ForecastModel):
    """Predicts the window mean for every horizon step."""

    SIZES = {"tiny": {}, "base": {}}
    learnable = False

    def forward(self, batch):
        mean = batch.history.mean(dim=1, keepdim=True)
        return ModelOutput(prediction=mean.expand(-1, self.spec.horizon).clone())
'''


def test_entry_point_plugin_is_registered(tmp_path, monkeypatch) -> None:
    site = tmp_path / "site"
    (site / "outside_models").mkdir(parents=True)
    (site / "outside_models" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "outside_models-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: outside-models\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[roma_bench.models]\nmean = outside_models\n")

    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_loaded", False)
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))
    try:
        names = registry.available_models()
        assert "plugin-mean" in names
        assert {"roma", "don", "fno", "gcn", "persistence"} <= set(names)  # built-ins still there
        model = behind_harness(registry.build_model("plugin-mean", make_spec()))
        batch = make_batch(12)
        # a floor (learnable = False): the harness hands it the raw batch
        expected = batch.history.mean(dim=1, keepdim=True).expand(-1, 4)
        assert torch.equal(model(batch).prediction, expected)
    finally:
        sys.modules.pop("outside_models", None)
