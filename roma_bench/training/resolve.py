"""Turn command-line inputs into a validated :class:`TrainConfig` and find earlier runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roma_bench.checkpoint_format import LegacyCheckpointError, legacy_message
from roma_bench.config import ConfigError, deep_update, load_yaml, parse_overrides, validate
from roma_bench.tracking.runs import resolve_tracking_uri
from roma_bench.tracking.tags import tag
from roma_bench.training.checkpointing import (
    LEGACY_FILES,
    MODEL_FILE,
    STATE_FILE,
)
from roma_bench.training.config import TrainConfig
from roma_bench.training.run_record import resume_config_of


def build_train_config(
    config_file: str | Path | None = None,
    fields: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    defaults: Sequence[str] = (),
) -> TrainConfig:
    """``defaults`` (``--set`` syntax, e.g. a card's budget), then ``--config FILE`` values,
    then explicit flags (``fields``), then ``--set`` overrides: each layer wins over the last."""
    data: dict[str, Any] = parse_overrides(defaults) if defaults else {}
    if config_file:
        data = deep_update(data, load_yaml(config_file))
    data = deep_update(data, {k: v for k, v in (fields or {}).items() if v is not None})
    if overrides:
        data = deep_update(data, parse_overrides(overrides))
    for required, flag in (("model_name", "--model"), ("task", "--task")):
        if not data.get(required):
            raise ConfigError(f"{flag} is required (or {required}: in --config)")
    return validate(TrainConfig, data, str(config_file) if config_file else "train config")


def run_folder(run_or_dir: str, tracking_uri: str | None = None) -> Path:
    """The folder of a run given as a folder path or an MLflow run id (its ``roma.out_dir`` tag)."""
    as_path = Path(run_or_dir)
    if as_path.is_dir():
        return as_path
    if as_path.is_file() and as_path.name in (STATE_FILE, MODEL_FILE, "run.json",
                                              *LEGACY_FILES.values()):  # fmt: skip
        return as_path.parent
    import mlflow

    uri = resolve_tracking_uri(tracking_uri)
    try:
        run = mlflow.MlflowClient(uri).get_run(run_or_dir)
    except Exception:
        raise ConfigError(
            f"{run_or_dir!r} is neither a run folder nor a run id in the tracking store {uri}"
        ) from None
    folder = run.data.tags.get(tag("out_dir"))
    if not folder:
        raise ConfigError(f"run {run_or_dir} has no {tag('out_dir')} tag (not a roma-bench run)")
    return Path(folder)


def resume_config(folder: Path) -> TrainConfig:
    """The config a run folder's training state (or, before its first checkpoint, its
    ``run.json``) was written with."""

    data, source = resume_config_of(folder)
    return validate(TrainConfig, data, source)


def checkpoint_of_run(run_id: str, tracking_uri: str | None = None) -> Path:
    """The evaluation checkpoint of run ``run_id``: its local folder, else its MLflow artifact."""
    path = run_folder(run_id, tracking_uri) / MODEL_FILE
    if path.is_file():
        return path
    legacy = path.with_name(LEGACY_FILES[MODEL_FILE])
    if legacy.is_file():  # a run of an older version: refuse its pickle, say how to convert
        raise LegacyCheckpointError(legacy_message(legacy))
    import tempfile

    import mlflow

    client = mlflow.MlflowClient(resolve_tracking_uri(tracking_uri))
    target = Path(tempfile.mkdtemp(prefix="roma-bench-ckpt-"))
    return Path(client.download_artifacts(run_id, f"checkpoint/{MODEL_FILE}", str(target)))
