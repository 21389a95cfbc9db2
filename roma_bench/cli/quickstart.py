"""``roma-bench quickstart``: the main job on embedded defaults, end to end.

Generates km-tiny (when missing), trains ROMA-tiny and the baselines for one seed
with the same step budget, scores each on the held-out test subgraph and time
range, prints the leaderboard table, and says where the MLflow store, the plots
and the table are. ``tox -e quickstart`` runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from roma_bench.limits import seed_arg, steps_arg

ORDER = 5
QUICKSTART_MODELS = (
    "roma", "persistence", "linear", "ar", "oracle", "don-mp", "fno", "gino", "gcn",
)  # fmt: skip
QUICKSTART_STEPS = 100


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "quickstart",
        help="generate km-tiny, train ROMA and baselines, print the leaderboard (~10 min on CPU)",
        description="The main job: generate the km-tiny task if missing, train ROMA (tiny) and "
        f"the baselines {', '.join(QUICKSTART_MODELS[1:])} at tiny size for one seed, score them "
        "on the held-out test data, print the leaderboard and where the MLflow store and the "
        "plots are. Everything is stored under ./runs and ./data.",
    )
    parser.add_argument("--task", default="km-tiny", help="task card (default km-tiny)")
    parser.add_argument("--models", default=",".join(QUICKSTART_MODELS),
                        help="comma-separated models (default: %(default)s)")  # fmt: skip
    parser.add_argument("--steps", type=steps_arg, default=QUICKSTART_STEPS,
                        help="training steps per model (default %(default)s)")  # fmt: skip
    parser.add_argument("--seed", type=seed_arg, default=0)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default runs/mlflow.db)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from roma_bench.cards import load_card
    from roma_bench.cli.leaderboard import regenerate
    from roma_bench.paths import runs_dir
    from roma_bench.registry import get_model_class
    from roma_bench.results import record_run, results_dir
    from roma_bench.tracking.runs import resolve_tracking_uri
    from roma_bench.tracking.tags import tag
    from roma_bench.training.data import open_task_data
    from roma_bench.training.resolve import build_train_config
    from roma_bench.training.runs import TrainingJob, run_trainings

    started = time.perf_counter()
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in models:
        get_model_class(name)
    uri = resolve_tracking_uri(args.tracking_uri)
    board = f"{args.task}-quickstart"
    command = f"roma-bench quickstart --task {args.task} --steps {args.steps} --seed {args.seed}"
    if args.models != ",".join(QUICKSTART_MODELS):
        command += f" --models {args.models}"
    say = lambda text: print(f"[{time.perf_counter() - started:6.1f} s] {text}", flush=True)  # noqa: E731
    say(f"task {args.task}: opening its data (generated on first use)")
    data = open_task_data(args.task, progress=not args.quiet)
    say(f"task {args.task} v{data.version} at {data.path} (checksum {data.checksum[:12]}…)")
    primary = load_card(args.task).primary_metric("forecast")
    out = runs_dir() / "quickstart"
    tags = {tag("leaderboard"): board, tag("leaderboard_command"): command}
    # A short run: warm up over the first tenth of it, validate and checkpoint at the end.
    warmup = [f"optim.warmup_steps={max(1, args.steps // 10)}"]
    jobs = [
        TrainingJob(build_train_config(None, {"model_name": model, "task": args.task,
                    "size": "tiny", "seed": args.seed, "steps": args.steps,
                    "device": args.device}, warmup), tags)
        for model in models
    ]  # fmt: skip

    def report(job: TrainingJob, result: Any) -> None:
        record_run(result.run_id, args.task, uri, results_dir(board, out))
        score = result.metrics.get(primary, float("nan"))
        paper = result.metrics.get("smspe", float("nan"))
        say(
            f"{job.config.model_name:<12} {result.status} in {result.wall_time:6.1f} s, test "
            f"{primary} {score:.4g} (sMSPE, the ROMA paper's metric: {paper:.4g})"
        )

    trained = run_trainings(jobs, tracking_uri=uri, progress=not args.quiet, on_result=report)
    results = list(zip(models, trained, strict=True))
    print()
    regenerate(args.task, uri, str(out), only_current=True, board_name=board)
    print()
    say("done")
    print(f"MLflow store: {uri}  (browse: mlflow ui --backend-store-uri {uri})")
    print("plots (loss curves, rollouts vs truth, R(t)) per run:")
    for model, result in results:
        if result.out_dir is not None:
            print(f"  {model:<12} {result.out_dir / 'plots'}")
    failed = [m for m, r in results if r.status != "FINISHED"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0
