"""``roma-bench evaluate``: score a trained run, a checkpoint or a predictions file on held-out data."""

from __future__ import annotations

import argparse
import json

ORDER = 21


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score a run or checkpoint on the task's held-out test subgraph and time range",
        description="Load a checkpoint (or the checkpoint of an MLflow run) and print every metric "
        "on the held-out test subgraph and test time range: delta_nrmse (nRMSE of the predicted "
        "change from the last observed frame), nRMSE, sMSPE (the ROMA paper's metric), rollout "
        "nRMSE at 1, 4 and 16 frames (Kuramoto: of the change from the rollout origin), phase "
        "and order-parameter errors (Kuramoto), coarse-observable error, and the latent-PDE "
        "residual where the model reports one. The task card's metrics.primary names the one "
        "boards rank by. --predictions scores a predictions file made by any code "
        "(array [W, n, R] with task, split and data_checksum; see roma_bench.evaluate_predictions) "
        "and prints JSON with the task version and data checksum.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN_ID", help="MLflow run id of a training run")
    source.add_argument("--checkpoint", metavar="PATH", help="a model.safetensors checkpoint")
    source.add_argument(
        "--predictions", metavar="FILE", help="a predictions file (.h5 or .npz); needs --task"
    )
    parser.add_argument("--task", help="task to score on (default: the one it was trained on)")
    parser.add_argument("--split", choices=["test", "val"], default="test")
    parser.add_argument("--learning-task", choices=["forecast", "effective"])
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default sqlite runs/mlflow.db)"
    )
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def score_predictions_file(args: argparse.Namespace) -> int:
    from roma_bench.config import ConfigError
    from roma_bench.predictions import evaluate_predictions_file

    if not args.task:
        raise ConfigError("--predictions needs --task (the task the predictions were made for)")
    scores, store = evaluate_predictions_file(args.predictions, args.task, args.split)
    print(json.dumps({
        "predictions": str(args.predictions), "task": store.card.name,
        "task_version": str(store.version), "data_checksum": str(store.checksum),
        "split": args.split, "metrics": scores,
    }))  # fmt: skip
    return 0


def run(args: argparse.Namespace) -> int:
    if args.predictions:
        return score_predictions_file(args)
    from roma_bench.training.evaluate import evaluate_checkpoint
    from roma_bench.training.fit import resolve_device
    from roma_bench.training.resolve import checkpoint_of_run

    path = checkpoint_of_run(args.run, args.tracking_uri) if args.run else args.checkpoint
    device = str(resolve_device(args.device))
    scores = evaluate_checkpoint(path, task=args.task, split=args.split,
                                 learning_task=args.learning_task, device=device)  # fmt: skip
    if args.json:
        print(json.dumps({"checkpoint": str(path), "split": args.split, "metrics": scores}))
        return 0
    print(f"{path} on the {args.split} split:")
    for name, value in scores.items():
        print(f"  {name:<24} {value:.5g}")
    return 0
