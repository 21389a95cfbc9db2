"""Task cards: every shipped card validates; typos and out-of-range values name the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cards_for_tests import micro_card_data, write_card

from roma_bench.cards import TaskCard, load_card
from roma_bench.config import ConfigError
from roma_bench.dynamics.params import KuramotoParams, SocialParams
from roma_bench.registry import available_tasks

SHIPPED = ["km-tiny", "km-38k", "km-314k", "km-1m", "km-3m", "bd-tiny", "bd-38k", "bd-1m", "bd-3m"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cards_validate(name: str) -> None:
    card = load_card(name)
    assert card.name == name
    assert card.system == ("kuramoto" if name.startswith("km") else "social")
    # every window fits: train windows, and R future frames in val and test
    ranges = card.frame_ranges
    assert ranges["train"][1] - ranges["train"][0] >= card.window.lookback + card.window.horizon
    for split in ("val", "test"):
        assert ranges[split][1] - ranges[split][0] >= card.window.rollout


def test_all_shipped_cards_are_listed() -> None:
    assert set(SHIPPED) <= set(available_tasks())


def test_tier_sizes() -> None:
    assert load_card("km-tiny").graph.nodes <= 2500
    assert load_card("km-tiny").simulation.frames >= 300
    assert load_card("km-1m").graph.nodes == 1_000_000
    assert load_card("km-1m").simulation.frames >= 500
    assert load_card("bd-3m").graph.nodes == 3_000_000


def test_system_sections_are_complete() -> None:
    """Each card spells out every system parameter (so the YAML documents the task fully)."""
    import yaml

    from roma_bench.registry import task_card_path

    for name in SHIPPED:
        data = yaml.safe_load(task_card_path(name).read_text())
        section, params = (
            ("kuramoto", KuramotoParams) if name.startswith("km") else ("social", SocialParams)
        )
        assert set(data[section]) == set(params.model_fields), name


def test_typo_in_a_key_is_rejected_naming_it(tmp_path) -> None:
    data = micro_card_data()
    data["simulation"]["save_evry"] = 2
    with pytest.raises(ConfigError, match=r"simulation\.save_evry: unknown key"):
        load_card(write_card(tmp_path, data))


def test_typo_in_a_top_level_key_is_rejected(tmp_path) -> None:
    data = micro_card_data()
    data["noize"] = 0.1
    with pytest.raises(ConfigError, match=r"noize: unknown key"):
        load_card(write_card(tmp_path, data))


@pytest.mark.parametrize(
    ("section", "key", "value", "field"),
    [
        ("graph", "nodes", -5, "graph.nodes"),
        ("simulation", "dt", 0.0, "simulation.dt"),
        ("split", "train_fraction", 1.5, "split.train_fraction"),
        ("kuramoto", "coupling", -1.0, "kuramoto.coupling"),
        ("window", "lookback", 0, "window.lookback"),
    ],
)
def test_out_of_range_value_names_the_field(tmp_path, section, key, value, field) -> None:
    data = micro_card_data(**{section: {key: value}})
    with pytest.raises(ConfigError, match=rf"{field}: .*\(got {value!r}\)"):
        load_card(write_card(tmp_path, data))


def test_noise_out_of_range(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"noise: .*less than or equal to 1"):
        load_card(write_card(tmp_path, micro_card_data(noise=2.0)))


def test_windows_must_fit_the_time_split(tmp_path) -> None:
    data = micro_card_data(window={"rollout": 40})
    with pytest.raises(ConfigError, match=r"split\.val_fraction: the val range has 10 of 101"):
        load_card(write_card(tmp_path, data))


def test_rollout_shorter_than_horizon_is_rejected(tmp_path) -> None:
    data = micro_card_data(window={"horizon": 5, "rollout": 3})
    with pytest.raises(ConfigError, match=r"rollout \(3\) must be ≥ horizon \(5\)"):
        load_card(write_card(tmp_path, data))


def test_held_out_nodes_must_leave_a_training_batch(tmp_path) -> None:
    data = micro_card_data(split={"val_nodes": 200, "test_nodes": 150})
    with pytest.raises(ConfigError, match=r"leaves 50 training nodes .* batch.nodes = 64"):
        load_card(write_card(tmp_path, data))


def test_wrong_system_section_is_rejected(tmp_path) -> None:
    data = micro_card_data(social={"viscosity": 0.1})
    with pytest.raises(ConfigError, match="a kuramoto card must not have a 'social' section"):
        load_card(write_card(tmp_path, data))


def test_frame_ranges_partition_the_frames() -> None:
    card = TaskCard.model_validate(micro_card_data())
    ranges = card.frame_ranges
    assert ranges == {"train": (0, 70), "val": (70, 80), "test": (80, 101)}


def test_name_must_match_file(tmp_path, monkeypatch) -> None:
    path = write_card(tmp_path, micro_card_data(name="micro"))
    path.rename(tmp_path / "other.yaml")
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(tmp_path))
    with pytest.raises(ConfigError, match="does not match the file name 'other'"):
        load_card("other")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_cards_rank_by_offset_free_metrics(name: str) -> None:
    card = load_card(name)
    forecast = "delta_nrmse" if card.system == "kuramoto" else "nrmse"
    assert card.primary_metric("forecast") == forecast
    assert card.primary_metric("effective") == "coarse_error"


def test_metrics_section_defaults_to_the_system_s_offset_free_metrics() -> None:
    kuramoto = TaskCard.model_validate(micro_card_data())
    social = TaskCard.model_validate(micro_card_data(system="social"))
    assert kuramoto.metrics.primary.forecast == "delta_nrmse"
    assert social.metrics.primary.forecast == "nrmse"
    assert social.resolved()["metrics"] == {
        "primary": {"forecast": "nrmse", "effective": "coarse_error"}
    }


def test_unknown_primary_metric_is_rejected_naming_the_field(tmp_path) -> None:
    data = micro_card_data(metrics={"primary": {"forecast": "rmse", "effective": "coarse_error"}})
    with pytest.raises(ConfigError) as err:
        load_card(write_card(tmp_path, data))
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert "metrics.primary.forecast: Value error, unknown metric 'rmse'; known: smspe" in message


def test_paper_metric_cannot_rank(tmp_path) -> None:
    data = micro_card_data(metrics={"primary": {"forecast": "smspe", "effective": "coarse_error"}})
    with pytest.raises(ConfigError, match=r"metrics\.primary\.forecast: .*ROMA paper's metric"):
        load_card(write_card(tmp_path, data))


def test_primary_metric_must_be_scored_for_the_system(tmp_path) -> None:
    data = micro_card_data(
        system="social", metrics={"primary": {"forecast": "phase_error", "effective": "nrmse"}}
    )
    with pytest.raises(
        ConfigError,
        match=r"metrics\.primary\.forecast: metric 'phase_error' is not scored on a "
        r"social task",
    ):
        load_card(write_card(tmp_path, data))
    with pytest.raises(ConfigError, match=r"metrics\.primary: Field required"):
        load_card(write_card(tmp_path, micro_card_data(metrics={})))


def test_card_comments_restate_no_budget_verdict() -> None:
    """A doubling verdict lives in leaderboards/budgets/<card>.csv and the section of
    tasks/README.md generated from it; a comment that restates one goes stale unseen."""
    tasks = Path(__file__).resolve().parents[2] / "tasks"
    verdict = re.compile(r"converge|\d\s?%")
    for card in sorted(tasks.glob("*.yaml")):
        for number, line in enumerate(card.read_text().splitlines(), 1):
            comment = line.partition("#")[2]
            assert not verdict.search(comment), f"{card.name}:{number}: {line.strip()}"
