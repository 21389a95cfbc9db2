"""The registry: models by name, clear errors, task cards by name."""

import pytest

from roma_bench import registry
from roma_bench.models.base import ForecastModel


def test_unknown_model_lists_known_names():
    with pytest.raises(registry.RegistryError, match="unknown model 'no-such-model'; registered"):
        registry.get_model_class("no-such-model")


def test_register_and_duplicate_name():
    @registry.register_model("test-registry-model")
    class A(ForecastModel):
        pass

    assert registry.get_model_class("test-registry-model") is A
    assert A.name == "test-registry-model"
    with pytest.raises(registry.RegistryError, match="already registered"):

        @registry.register_model("test-registry-model")
        class B(ForecastModel):
            pass

    registry._MODELS.pop("test-registry-model")


def test_tasks_are_found_by_name():
    assert "km-tiny" in registry.available_tasks()
    assert registry.task_card_path("km-tiny").name == "km-tiny.yaml"
    with pytest.raises(registry.RegistryError, match="unknown task 'km-nope'; known tasks"):
        registry.task_card_path("km-nope")


def test_extra_task_folder_takes_precedence(tmp_path, monkeypatch):
    (tmp_path / "km-tiny.yaml").write_text("name: km-tiny\n")
    monkeypatch.setenv("ROMA_BENCH_TASKS", str(tmp_path))
    assert registry.task_card_path("km-tiny") == tmp_path / "km-tiny.yaml"
