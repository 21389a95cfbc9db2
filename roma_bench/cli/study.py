"""``roma-bench study transfer|scaling|noise|attention``: the studies of DESIGN.md section 4."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from roma_bench.cli.options import add_base_config_arguments, add_set_argument, base_config
from roma_bench.limits import shard_arg, steps_arg

ORDER = 45


RESUMES = (
    "A rerun of the same command keeps every run with a finished row (status ok) in the "
    "study's CSV and trains only the missing and failed ones. A run that the task's board "
    "already trained (<leaderboards>/<task>/runs: a finished result file with the same "
    "`roma-bench train` command, on the same data) is not trained again: its row takes "
    "that run's test scores and run id; so does a row whose command another finished row "
    "of the study already ran (data fraction 1 and the cross-card run of the same card). "
    "Processes started with the same command and --shard 1/N … N/N split the runs and "
    "share the CSV; the one that finishes last writes the plot and summary."
)
STEPS_HELP = (
    "training steps per run (default: the task card's budget: its steps and warm-up, and each "
    "model's learning rate from <leaderboards>/<task>.tuning.csv (the sweep at the card's "
    "tuned_at steps), else the card's lr; a card without a budget: the TrainConfig default). "
    "Giving --steps keeps the budget's shape and rates over that many steps (warm-up scaled); "
    "--config and --set override it"
)


def _csv(kind):
    def parse(text: str) -> list:
        try:
            return [kind(item) for item in text.split(",") if item.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated {kind.__name__}s, got {text!r}"
            ) from None

    return parse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study",
        help="transfer, scaling, noise and attention studies (CSV + plot under "
        "leaderboards/studies/)",
        description=(
            "Run a study: each is one parent MLflow run with nested training runs, and writes "
            "<leaderboards>/studies/<study>-<task>.csv, .png and .md. transfer (joint protocol), "
            "scaling and noise resume: a rerun of the same command keeps every run that has a "
            "finished row (status ok) in the CSV and trains only the missing and failed ones."
        ),
    )
    kinds = parser.add_subparsers(dest="study", metavar="STUDY", required=True)

    transfer = kinds.add_parser(
        "transfer",
        help="forecast-only vs joint (latent PDE) training per PDE-capable model; "
        "or --protocol finetune",
        description="joint (default, the ROMA paper's question): per model and seed, "
        "forecast-only (w_pde = w_gpde = 0) against joint training (w_pde = 1, w_gpde = "
        "1/σ_t²), --steps each, scored on forecast error, pde_residual and coarse_error. "
        "finetune: pretrain on one learning task, fine-tune on the other, versus scratch "
        "for the same total steps; positive transfer = error(scratch)/error(transferred) − 1. "
        "The joint protocol resumes. " + RESUMES,
    )
    _common(transfer)
    transfer.add_argument(
        "--protocol", choices=("joint", "finetune"), default="joint",
        help="joint (default) or finetune",
    )  # fmt: skip
    transfer.add_argument("--pretrain-steps", type=steps_arg, help="finetune protocol only")
    transfer.add_argument("--finetune-steps", type=steps_arg, help="finetune protocol only")
    transfer.add_argument(
        "--readme", type=Path,
        help="joint protocol: regenerate this README's transfer section (between "
        "<!-- transfer:begin --> and <!-- transfer:end -->) from the study CSV",
    )  # fmt: skip
    transfer.set_defaults(handler=run_transfer)

    scaling = kinds.add_parser(
        "scaling",
        help="parameter scaling (width factors) and data scaling (tasks), power-law fits",
        description="Fit L = a·N^(−α) per model family over parameter count (width factors of "
        "the model config) and over task size (--data-tasks). " + RESUMES,
    )
    _common(scaling, default_seeds="0")
    scaling.add_argument(
        "--width-factors", type=_csv(float), default=[0.5, 1.0, 2.0, 4.0],
        help="multipliers of every width field (default 0.5,1,2,4; '' for no parameter axis)",
    )  # fmt: skip
    scaling.add_argument(
        "--data-tasks", type=_csv(str), default=[],
        help="cross-card comparison (axis 'cards', reported apart from data scaling): the "
        "same model on tasks of growing size, e.g. km-tiny,km-38k,km-314k, each at that "
        "card's own budget (its steps, warm-up and tuned rate, so a card's run is its "
        "board's run); with --steps, every card at that many steps",
    )  # fmt: skip
    scaling.add_argument(
        "--data-fractions", type=_csv(float), default=[],
        help="data scaling (axis 'data'): train on these nested fractions of --task's "
        "training nodes (connected regions, ¼ ⊂ ½ ⊂ 1), e.g. 0.25,0.5,1; same val/test sets",
    )  # fmt: skip
    scaling.set_defaults(handler=run_scaling)

    noise = kinds.add_parser(
        "noise",
        help="train at noise σ, evaluate clean, error vs σ per model",
        description="Train each model at each σ (TrainConfig.noise) and score the clean test "
        "split. " + RESUMES,
    )
    _common(noise)
    noise.add_argument(
        "--sigmas", type=_csv(float), default=None,
        help="noise σ (std: radians on phases, of log u on activity); default per system: "
        "kuramoto 0,1e-3,1e-2,0.1; social 0,0.01,0.03,0.1",
    )  # fmt: skip
    noise.set_defaults(handler=run_noise)

    attention = kinds.add_parser(
        "attention",
        help="a trained ROMA's cross-scale attention vs hyperbolic distance, and its learned "
        "coarse-graining on a Poincaré-disk layout",
        description="Train a ROMA-tiny for --steps (or load --checkpoint), take its first test "
        "batch and plot (a) fine↔supernode attention (mean over layers and heads) against the "
        "Poincaré distance from each node to each supernode, placed at the assignment-weighted "
        "gyromidpoint of its nodes, and (b) the nodes on a Poincaré-disk layout of their "
        "embeddings coloured by their argmax supernode. Writes attention-<task>.csv/.png/.md.",
    )
    attention.add_argument("--task", required=True, help="task card name, e.g. km-tiny")
    source = attention.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", type=Path, help="a trained ROMA checkpoint to load")
    source.add_argument("--steps", type=steps_arg, default=200,
                        help="train a ROMA-tiny this many steps (default 200)")  # fmt: skip
    attention.add_argument("--seed", type=int, default=0, help="training and data seed (default 0)")
    add_set_argument(attention, "TrainConfig override when training")
    attention.add_argument("--tracking-uri", help="MLflow tracking URI (default: local store)")
    attention.add_argument("--out-dir", type=Path, help="default <leaderboards>/studies")
    attention.set_defaults(handler=run_attention)


def _common(parser: argparse.ArgumentParser, default_seeds: str = "0,1,2") -> None:
    add_base_config_arguments(parser, model_required=False, steps_help=STEPS_HELP)
    parser.add_argument("--models", type=_csv(str), required=True, help="e.g. roma,don-mp,fno")
    parser.add_argument(
        "--seeds", type=_csv(int), default=_csv(int)(default_seeds),
        help=f"training seeds (default {default_seeds})",
    )  # fmt: skip
    parser.add_argument("--out-dir", type=Path, help="default <leaderboards>/studies")
    parser.add_argument(
        "--shard", type=shard_arg, default=(1, 1), metavar="I/N",
        help="train only shard I of N of the runs (round-robin; processes with the same "
        "command and the other shards may run concurrently: every shard merges its rows "
        "into the same CSV under its lock, and the one that finishes last writes the plot "
        "and summary; not recorded in the command)",
    )  # fmt: skip
    parser.add_argument(
        "--no-train", dest="train", action="store_false",
        help="train nothing: rewrite the CSV, plot and summary from the runs that already have "
        "a finished row (an interrupted study's partial result; a rerun without it resumes)",
    )  # fmt: skip


def _base(args: argparse.Namespace) -> tuple[Any, dict[str, float]]:
    """The base TrainConfig and each model's learning rate; also resolves
    ``args.tracking_uri`` once for the whole study.

    Each model's config starts from the card's budget
    (:func:`roma_bench.results.budget_overrides`: steps, warm-up, the model's tuned rate;
    with ``--steps``, the same shape and rate over that many steps), beneath ``--config``
    and ``--set``; a card without a budget adds nothing.
    """
    from roma_bench.cli import UsageError
    from roma_bench.registry import get_model_class
    from roma_bench.tracking.runs import resolve_tracking_uri

    args.tracking_uri = resolve_tracking_uri(args.tracking_uri)
    if not args.models:
        raise UsageError("--models: give at least one model")
    for name in args.models:
        get_model_class(name)
    configs = _model_configs(args)
    return configs[args.models[0]], {model: c.optim.lr for model, c in configs.items()}


def _model_configs(args: argparse.Namespace) -> dict[str, Any]:
    """Each model's base TrainConfig on ``args.task``: the card's budget (steps, warm-up,
    the model's tuned rate) beneath ``--config`` and ``--set``."""
    from roma_bench.results import budget_overrides

    schedule = budget_overrides(args.task, steps=args.steps)
    return {model: base_config(args, model, schedule(model)) for model in args.models}


def _card_configs(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each ``--data-tasks`` card's base TrainConfig per model, resolved as ``_base``
    resolves ``--task``'s: the card's own budget (steps, warm-up, tuned rate: its board's
    runs; with ``--steps``, that many steps on every card in each card's schedule shape),
    beneath ``--config`` and ``--set``."""
    return {
        task: _model_configs(argparse.Namespace(**{**vars(args), "task": task}))
        for task in args.data_tasks
    }


def run_transfer(args: argparse.Namespace) -> int:
    from roma_bench.cli import UsageError
    from roma_bench.studies.transfer import run_transfer_study

    if args.protocol == "finetune":
        for flag in ("pretrain_steps", "finetune_steps"):
            if getattr(args, flag) is None or getattr(args, flag) < 1:
                raise UsageError(f"--{flag.replace('_', '-')}: the finetune protocol needs ≥ 1")
        if args.readme is not None:
            raise UsageError("--readme: only the joint protocol writes a README section")
    else:
        for flag in ("pretrain_steps", "finetune_steps"):
            if getattr(args, flag) is not None:
                raise UsageError(
                    f"--{flag.replace('_', '-')}: only for --protocol finetune "
                    "(the joint protocol trains both arms for --steps)"
                )
    base, lrs = _base(args)
    try:
        rows, files = run_transfer_study(
            base, args.models, args.seeds, protocol=args.protocol, lrs=lrs,
            pretrain_steps=args.pretrain_steps, finetune_steps=args.finetune_steps,
            tracking_uri=args.tracking_uri, out_dir=args.out_dir, train=args.train,
            shard=args.shard,
        )  # fmt: skip
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.readme is not None:
        from roma_bench.studies.joint import write_readme_section

        print(f"README section: {write_readme_section(files.csv, args.readme)}")
    return _report(rows, files)


def run_scaling(args: argparse.Namespace) -> int:
    from roma_bench.cli import UsageError
    from roma_bench.studies.scaling import run_scaling_study

    if len(args.width_factors) < 2 and not (args.data_tasks or args.data_fractions):
        raise UsageError(
            "--width-factors: need at least 2 factors (4 for a study), or --data-fractions "
            "or --data-tasks"
        )
    bad = [f for f in args.data_fractions if not 0 < f <= 1]
    if bad:
        raise UsageError(f"--data-fractions: {bad[0]:g} is not in (0, 1]")
    base, lrs = _base(args)
    rows, fits, files = run_scaling_study(
        base, args.models, width_factors=args.width_factors, data_tasks=args.data_tasks,
        data_fractions=args.data_fractions, lrs=lrs, card_configs=_card_configs(args),
        seeds=args.seeds, tracking_uri=args.tracking_uri, out_dir=args.out_dir, train=args.train,
        shard=args.shard,
    )  # fmt: skip
    for fit in fits:
        print(
            f"{fit['axis']:>10} {fit['model']:<12} α = {fit['alpha']:.3f} ± {fit['alpha_se']:.3f}"
        )
    return _report(rows, files)


def run_noise(args: argparse.Namespace) -> int:
    from roma_bench.studies.noise import run_noise_study

    base, lrs = _base(args)
    rows, summary, files = run_noise_study(
        base, args.models, sigmas=args.sigmas, seeds=args.seeds, lrs=lrs,
        tracking_uri=args.tracking_uri, out_dir=args.out_dir, train=args.train,
        shard=args.shard,
    )  # fmt: skip
    for row in summary:
        print(
            f"{row['model']:<12} σ={row['sigma']:<8g} {row['error']:.4g} ± {row['error_std']:.2g}"
        )
    return _report(rows, files)


def run_attention(args: argparse.Namespace) -> int:
    from roma_bench.cli import UsageError
    from roma_bench.studies.attention import run_attention_study
    from roma_bench.tracking.runs import resolve_tracking_uri

    if args.checkpoint is not None and not args.checkpoint.exists():
        raise UsageError(f"--checkpoint: no file {args.checkpoint}")
    try:
        numbers, files = run_attention_study(
            args.task, args.checkpoint, args.steps, args.seed, args.overrides,
            resolve_tracking_uri(args.tracking_uri), args.out_dir,
        )  # fmt: skip
    except ValueError as err:
        raise UsageError(str(err)) from None
    for key, value in numbers.items():
        print(f"{key:>20} {value:.4g}")
    print(f"wrote {files.csv}, {files.png}, {files.md}")
    return 0


def _report(rows, files) -> int:
    failed = [r for r in rows if r.get("status") != "ok"]
    for row in failed:
        print(f"failed: {row.get('model')}: {row.get('status')}")
    if getattr(rows, "waiting", 0):
        print(f"wrote {files.csv}; {rows.waiting} runs of other shards are not finished: the "
              "plot and summary are written by the shard that finishes last")  # fmt: skip
    else:
        print(f"wrote {files.csv}, {files.png}, {files.md}")
    return 1 if failed and len(failed) == len(rows) else 0
