"""examples/own_model.py runs: a plain torch model trained on TrainWindows, scored by the evaluator."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own_model.py"


def test_own_model_example_trains_and_scores(km_tiny_store, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ROMA_BENCH_DATA", str(km_tiny_store.parent))
    spec = importlib.util.spec_from_file_location("own_model", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scores = module.main(["--task", "km-tiny", "--steps", "3"])
    assert len(EXAMPLE.read_text().splitlines()) < 80
    for name in ("delta_nrmse", "smspe", "rollout_nrmse_h1", "rollout_nrmse_h16", "coarse_error"):
        assert math.isfinite(scores[name]) and scores[name] > 0
    assert '"delta_nrmse"' in capsys.readouterr().out
