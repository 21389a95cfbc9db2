"""``roma-bench budget check|tune TASK``: choose a card's standard budget, tune models equally."""

from __future__ import annotations

import argparse
import sys

from roma_bench.limits import seed_arg, shard_arg, steps_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "budget",
        help="check that a task's training budget has converged; tune every model's lr equally",
        description="check: train each model at the card's budget B and at 2B (same schedule "
        "shape, early stopping off) for each seed and compare the validation primary metric; "
        "a budget is converged for a model when doubling it improves the seed mean by less "
        "than 5% (marked not resolved when that lies within two paired standard errors "
        "over seeds of 5%). Each model runs at its tuned rate (TASK.tuning.csv) unless --lr is given; "
        "the board's finished runs that match B are scored instead of retrained. Writes "
        "leaderboards/budgets/TASK.{csv,md,png}; the page lists every invocation that wrote it, "
        "with the budget it resolved spelled out (--steps, --warmup-steps), and plots every "
        "recorded run against its budget. tune: train "
        "every model at the budget with each of the same learning rates (one seed) and keep the best on the "
        "validation split in leaderboards/TASK.tuning.csv, which `leaderboard run` reads. "
        "Both write each run's row as soon as it is scored and skip the runs already in "
        "their file, so a rerun resumes (a run cut off halfway continues from its last "
        "checkpoint, every 500 steps); processes started with --shard 1/N … N/N split "
        "the runs and share the file.",
    )
    parser.add_argument("action", choices=["check", "tune"])
    parser.add_argument("task", help="task card name, e.g. km-tiny")
    parser.add_argument("--models", nargs="+", help="models (default: check roma gcn; "
                        "tune every learned model)")  # fmt: skip
    parser.add_argument("--steps", type=steps_arg, help="budget B (default: the card's; "
                        "tune: the card's tuned_at steps when it names them)")  # fmt: skip
    parser.add_argument("--lr", type=float, help="learning rate of check for every model "
                        "(default: each model's tuned rate from leaderboards/TASK.tuning.csv "
                        "at B, else the card's)")  # fmt: skip
    parser.add_argument("--warmup-steps", type=int, help="warm-up of B (default: the card's, "
                        "scaled with --steps so that the schedule keeps its shape)")  # fmt: skip
    parser.add_argument("--seeds", nargs="+", type=seed_arg, default=[0, 1, 2],
                        help="seeds of check (default 0 1 2)")  # fmt: skip
    parser.add_argument("--lrs", nargs="+", type=float, help="learning rates of tune "
                        "(default 1e-3 3e-3 1e-2 3e-2)")  # fmt: skip
    parser.add_argument("--seed", type=seed_arg, default=0, help="seed of tune (default 0)")
    parser.add_argument("--shard", type=shard_arg, metavar="I/N",
                        help="run only shard I of N of the runs (others may run "
                        "concurrently; every shard writes the same file)")  # fmt: skip
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking URI (default sqlite runs/mlflow.db)"
    )
    parser.add_argument(
        "--no-board",
        action="store_true",
        help="check: train every run at B "
        "instead of scoring the board's finished runs that match it (same "
        "steps, warm-up, rate and validation interval, early stopping off) on the "
        "validation split",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run)


def _budget(args: argparse.Namespace, card):
    """B from the flags over the card's budget: ``--steps`` keeps the card's schedule shape
    (warm-up scaled, :meth:`Budget.over`) unless ``--warmup-steps`` is given; ``tune``
    without ``--steps`` sweeps at the card's ``tuned_at`` steps (the sweep the boards take
    their rates from)."""
    from roma_bench.budgets import Budget

    if args.steps is None:
        budget = Budget.of_card(card)
        if args.action == "tune":
            budget = budget.over(card.budget.tuning_steps)
    elif card.budget is not None:
        # the card's schedule shape over --steps (warm-up scaled), as `leaderboard run
        # --steps` trains: a doubling chain B, 2B, 4B … keeps one shape without flags
        budget = Budget.of_card(card).over(args.steps)
    else:
        budget = Budget(args.steps, 1e-3, min(20, args.steps - 1))
    return Budget(
        budget.steps,
        args.lr if args.lr is not None else budget.lr,
        args.warmup_steps if args.warmup_steps is not None else budget.warmup_steps,
    )


#: options that change where a check is tracked or how it talks, not its runs: not recorded
_NOT_RECORDED = {"--tracking-uri": 1, "--shard": 1, "--quiet": 0, "--debug": 0}


def _explicit(args: argparse.Namespace, budget) -> str:
    """The running command as the budget page records it: the budget it resolved spelled
    out (``--steps``, ``--warmup-steps``), so that it still means the same runs after the
    card's budget moves, and without the options that do not change the runs (tracking
    store, shard, verbosity), so that every shard of one check records one command."""
    import shlex

    from roma_bench.studies.common import current_command, without_options

    words = without_options(shlex.split(current_command()), _NOT_RECORDED)
    if args.steps is None:
        words += ["--steps", str(budget.steps)]
    if args.warmup_steps is None:
        words += ["--warmup-steps", str(budget.warmup_steps)]
    return shlex.join(words)


def run(args: argparse.Namespace) -> int:
    from roma_bench import budget_board, budget_pages, budgets
    from roma_bench.budget_records import done_keys
    from roma_bench.cards import load_card
    from roma_bench.registry import available_models, get_model_class
    from roma_bench.tracking.runs import resolve_tracking_uri

    card = load_card(args.task)
    budget = _budget(args, card)
    runner = budgets.tracked_runner(resolve_tracking_uri(args.tracking_uri), not args.quiet)
    shard = args.shard or (1, 1)
    if args.action == "check":
        models = args.models or ["roma", "gcn"]
        lrs = (
            dict.fromkeys(models, budget.lr) if args.lr is not None
            else budgets.check_learning_rates(card.name, models, budget)
        )  # fmt: skip
        if not args.no_board:
            reused = budget_board.board_rows(
                card.name, models, budget, lrs, budgets.validation_score,
                done=done_keys(budgets.check_rows(card.name)),
            )  # fmt: skip
            budgets.record_check_rows(card.name, reused)
            if reused:
                print(f"scored {len(reused)} finished board run(s) at B = {budget.steps} steps "
                      "on the validation split instead of training them again")  # fmt: skip
        budgets.doubling_runs(
            card.name, models, args.seeds, budget, runner, budgets.validation_score,
            done=done_keys(budgets.check_rows(card.name)), shard=shard, lrs=lrs,
            on_row=lambda row: budgets.record_check_rows(card.name, [row]),
        )  # fmt: skip
        rows = budgets.check_rows(card.name)
        verdicts = budgets.doubling_verdicts(rows)
        _, md = budget_pages.write_budget_check(card.name, [], verdicts, _explicit(args, budget))
        print(md.read_text(), end="")
        return 0
    models = args.models or [
        m for m in available_models() if getattr(get_model_class(m), "learnable", True)
    ]
    budgets.tune_learning_rates(
        card.name, models, budget, runner, budgets.validation_score,
        lrs=args.lrs or budgets.LEARNING_RATES, seed=args.seed,
        done=done_keys(budgets.tuning_rows(card.name)), shard=shard,
        on_row=lambda row: budgets.write_tuning(card.name, [row]),
    )  # fmt: skip
    for model, lr in budgets.tuned_learning_rates(card.name, steps=budget.steps).items():
        print(f"{model}: lr {lr:g}", file=sys.stdout)
    print(f"wrote {budgets.tuning_path(card.name)}")
    return 0
