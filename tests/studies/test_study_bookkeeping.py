"""Study bookkeeping with a recording trainer: budgets, what is compared, the files written.

The trainer (``study_doubles.RecordingTrainer``) is a stand-in that records each config and
returns a known error, so the tests check the study's logic exactly (the MLflow store:
``conftest.py``'s ``tracking``); ``test_study_training.py`` runs real training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pytest
from study_doubles import RecordingTrainer

from roma_bench.cards import load_card
from roma_bench.studies.common import read_csv
from roma_bench.studies.joint import plan_joint, write_readme_section
from roma_bench.studies.noise import run_noise_study
from roma_bench.studies.scaling import run_scaling_study
from roma_bench.studies.transfer import plan_transfer, run_transfer_study
from roma_bench.training.config import TrainConfig
from roma_bench.training.fit import TrainResult


def test_transfer_fine_tune_and_scratch_share_one_budget(tmp_path: Path, tracking: str) -> None:
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=999, optim={"lr": 3e-3})
    trainer = RecordingTrainer(tmp_path, lambda c: 0.5 if c.init_checkpoint else 1.0 + 0.1 * c.seed)
    rows, files = run_transfer_study(
        base, ["gcn", "don"], [0, 1, 2], protocol="finetune", pretrain_steps=7, finetune_steps=3,
        tracking_uri=tracking, out_dir=tmp_path / "studies", train_fn=trainer, command="cmd",
    )  # fmt: skip
    assert len(trainer.calls) == 2 * 3 * 2 * 3  # models × seeds × directions × (pre, fine, scratch)
    for k in range(0, len(trainer.calls), 3):
        (pre, _), (fine, fine_kw), (scratch, _) = trainer.calls[k : k + 3]
        assert pre.steps == 7 and pre.init_checkpoint is None
        assert fine.init_checkpoint == str(
            tmp_path / f"ckpt-run-{k + 1}.pt"
        )  # the pretrained weights
        assert scratch.init_checkpoint is None
        # Same total budget: scratch trains as long as pretrain + fine-tune, otherwise the two
        # target runs differ only in their initial weights.
        assert fine.model_dump(exclude={"init_checkpoint", "steps"}) == scratch.model_dump(
            exclude={"init_checkpoint", "steps"}
        )
        assert scratch.steps == pre.steps + fine.steps == 10
        assert fine.steps == 3 and fine.learning_task != pre.learning_task
        assert fine.optim.lr == 3e-3 and fine.seed == pre.seed
        assert fine_kw["nested"] is True and fine_kw["tags"]["mlflow.parentRunId"]
    assert {r["finetune_steps"] for r in rows} == {3} and {r["scratch_steps"] for r in rows} == {10}
    for row in rows:
        assert row["positive_transfer"] == pytest.approx((1.0 + 0.1 * row["seed"]) / 0.5 - 1)
    table = read_csv(files.csv)
    assert len(table) == 12 and files.csv.read_text().startswith("# command: cmd\n")
    assert files.png.stat().st_size > 1000
    md = files.md.read_text()
    assert "forecast → effective" in md and "effective → forecast" in md
    parent = mlflow.MlflowClient(tracking).get_run(fine_kw["tags"]["mlflow.parentRunId"])
    assert parent.info.status == "FINISHED" and parent.data.tags["roma.study"] == "transfer"


def test_transfer_plan_refers_only_to_the_budget_asked() -> None:
    base = TrainConfig(model_name="gcn", task="km-tiny", steps=10, init_checkpoint="x.pt")
    plans = plan_transfer(base, ["gcn"], [0, 1, 2], 20, 5)
    assert len(plans) == 6 and all(p.finetune.steps == 5 for p in plans)
    assert all(p.pretrain.init_checkpoint is None and p.scratch.steps == 25 for p in plans)


def test_a_failed_model_is_recorded_and_the_others_go_on(tmp_path: Path, tracking: str) -> None:
    def error_of(config: TrainConfig) -> float:
        if config.model_name == "don":
            raise RuntimeError("loss is nan")
        return 1.0

    rows, _ = run_transfer_study(
        TrainConfig(model_name="gcn", task="km-tiny"), ["don", "gcn"], [0], protocol="finetune", pretrain_steps=1,
        finetune_steps=1, tracking_uri=tracking, out_dir=tmp_path, train_fn=RecordingTrainer(tmp_path, error_of),
    )  # fmt: skip
    assert [r["status"] for r in rows[:2]] == ["failed: RuntimeError: loss is nan"] * 2
    assert [r["status"] for r in rows[2:]] == ["ok", "ok"]


def test_noise_study_trains_at_each_sigma(tmp_path: Path, tracking: str) -> None:
    trainer = RecordingTrainer(tmp_path, lambda c: 1.0 + 10 * c.noise + 0.01 * c.seed)
    _rows, summary, files = run_noise_study(
        TrainConfig(model_name="gcn", task="km-tiny", steps=5), ["gcn"], seeds=[0, 1, 2],
        tracking_uri=tracking, out_dir=tmp_path, train_fn=trainer, command="cmd",
    )  # fmt: skip
    # km-tiny is a Kuramoto task: σ in radians, the per-system default
    assert sorted({c.noise for c, _ in trainer.calls}) == [0.0, 1e-3, 1e-2, 1e-1]
    assert [r["sigma"] for r in summary] == [0.0, 1e-3, 1e-2, 1e-1]
    assert summary[-1]["error"] == pytest.approx(2.0 + 0.01)
    assert summary[-1]["error_std"] == pytest.approx(0.01)
    assert summary[-1]["error_vs_clean"] == pytest.approx(2.01 / 1.01)
    assert files.png.exists() and len(read_csv(files.csv)) == 12
    # the card version on every row: the README generator tells current from superseded rows
    assert set(read_csv(files.csv)["task_version"].astype(str)) == {"2.0"}


def test_scaling_study_widths_and_fit(tmp_path: Path, tracking: str) -> None:
    # error = 3·P^(−0.25) with P = 10·width² → the fit must give α = 0.25 exactly.
    trainer = RecordingTrainer(tmp_path, lambda c: 3.0 * (10 * c.model["dec_width"] ** 2) ** -0.25)
    _rows, fits, files = run_scaling_study(
        TrainConfig(model_name="roma", task="km-tiny", steps=5), ["roma"],
        width_factors=(0.5, 1, 2, 4), tracking_uri=tracking, out_dir=tmp_path, train_fn=trainer,
    )  # fmt: skip
    assert [c.model["dec_width"] for c, _ in trainer.calls] == [16, 36, 72, 144]  # ÷ heads
    assert [c.model["enc_width"] for c, _ in trainer.calls] == [8, 16, 32, 64]
    assert len(fits) == 1 and fits[0]["points"] == 4
    assert fits[0]["alpha"] == pytest.approx(0.25) and fits[0]["alpha_se"] < 1e-9
    assert np.isfinite(read_csv(files.csv)["error"]).all()
    assert set(read_csv(files.csv)["task_version"].astype(str)) == {"2.0"}


def test_data_scaling_trains_on_nested_fractions_and_cards_are_a_separate_axis(
    tmp_path: Path, tracking: str
) -> None:
    """Data axis: ¼, ½, 1 of km-tiny's training nodes (N = nodes used, 1616 of 2000 − 128 −
    256); error = 2·N^(−0.5) → α = 0.5. The cross-card axis is fitted on its own."""
    trainer = RecordingTrainer(
        tmp_path, lambda c: 2.0 * (1616 * c.train_nodes) ** -0.5 if c.task == "km-tiny" else 0.1
    )
    rows, fits, files = run_scaling_study(
        TrainConfig(model_name="gcn", task="km-tiny", steps=5), ["gcn"], width_factors=(),
        data_fractions=(0.25, 0.5, 1.0), data_tasks=("km-tiny", "km-38k"),
        tracking_uri=tracking, out_dir=tmp_path, train_fn=trainer,
    )  # fmt: skip
    # the cards axis's km-tiny run is the data axis's fraction-1 run: trained once
    trained = [(c.task, c.train_nodes) for c in trainer.configs]
    assert trained == [("km-tiny", 0.25), ("km-tiny", 0.5), ("km-tiny", 1.0), ("km-38k", 1.0)]
    assert [r["nodes"] for r in rows if r["axis"] == "data"] == [404, 808, 1616]
    assert [r["nodes"] for r in rows if r["axis"] == "cards"] == [2000, 38000]
    by_axis = {f["axis"]: f for f in fits}
    assert set(by_axis) == {"data", "cards"} and by_axis["data"]["points"] == 3
    assert by_axis["data"]["alpha"] == pytest.approx(0.5, rel=1e-3)
    assert list(read_csv(files.csv)["train_nodes"]) == [0.25, 0.5, 1.0, 1.0, 1.0]


def test_joint_protocol_arms_differ_only_in_the_pde_weights(tmp_path: Path, tracking: str) -> None:
    """Forecast-only vs joint: same steps, data, seed, optimizer; only w_pde/w_gpde differ."""
    base = TrainConfig(
        model_name="roma", task="km-tiny", steps=17, optim={"lr": 2e-3}, model={"dec_width": 40}
    )

    def error_of(config: TrainConfig) -> float:
        return 0.8 if config.model.get("w_pde") == 1.0 else 1.0

    class ScoringTrainer(RecordingTrainer):
        def __call__(self, config: TrainConfig, **kwargs: Any) -> TrainResult:
            result = super().__call__(config, **kwargs)
            joint = config.model.get("w_pde") == 1.0
            result.metrics.update(pde_residual=0.1 if joint else 5.0, coarse_error=0.3)
            return result

    trainer = ScoringTrainer(tmp_path, error_of)
    rows, files = run_transfer_study(
        base, ["roma", "don-pi"], [0, 1, 2], tracking_uri=tracking, out_dir=tmp_path / "s",
        train_fn=trainer, command="cmd",
    )  # fmt: skip
    assert len(trainer.calls) == 2 * 3 * 2  # models × seeds × arms
    for k in range(0, len(trainer.calls), 2):
        (plain, _), (joint, _) = trainer.calls[k : k + 2]
        assert plain.model == {"dec_width": 40, "w_pde": 0.0, "w_gpde": 0.0}
        assert joint.model == {"dec_width": 40, "w_pde": 1.0}  # w_gpde: the default 1/σ_t²
        assert plain.model_dump(exclude={"model"}) == joint.model_dump(exclude={"model"})
        assert plain.steps == joint.steps == 17 and plain.learning_task == "forecast"
    assert [r["arm"] for r in rows[:2]] == ["forecast-only", "joint"]
    assert all(r["status"] == "ok" and r["steps_done"] == 17 for r in rows)
    forecast = load_card("km-tiny").primary_metric("forecast")
    assert {r["forecast_metric"] for r in rows} == {forecast}
    assert [r["forecast_error"] for r in rows[:2]] == [1.0, 0.8]
    assert [r["pde_residual"] for r in rows[:2]] == [5.0, 0.1]
    assert files.csv.name == "transfer-km-tiny.csv" and len(read_csv(files.csv)) == 12
    md = files.md.read_text()
    assert "(-20.0%)" in md and "(-98.0%)" in md  # joint / forecast-only − 1

    readme = tmp_path / "README.md"
    readme.write_text("# Studies\n<!-- transfer:begin -->\nold\n<!-- transfer:end -->\ntail\n")
    write_readme_section(files.csv, readme)
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- transfer:end -->\ntail\n")
    assert "| roma | joint | 3 | 0.8 ± " in text and "(-20.0%)" in text and "`cmd`" in text


def test_joint_protocol_refuses_a_model_without_a_latent_pde() -> None:
    with pytest.raises(ValueError, match="model 'gcn' has no latent PDE"):
        plan_joint(TrainConfig(model_name="gcn", task="km-tiny"), ["gcn"], [0])


def test_a_study_csv_keeps_its_task_version_label(tmp_path):
    """ "2.0" read back as a float and rewritten would be "2", which no card version equals."""
    from roma_bench.studies.common import read_csv

    path = tmp_path / "noise-km-tiny.csv"
    path.write_text("# command: x\nmodel,task_version,error\ngcn,2.0,0.1\n")
    assert list(read_csv(path)["task_version"]) == ["2.0"]
