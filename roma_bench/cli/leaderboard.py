"""``roma-bench leaderboard run|show|add|readme``: train for a board, regenerate it, or its README text."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from roma_bench.cli.options import add_set_argument
from roma_bench.limits import count_arg, shard_arg, steps_arg

ORDER = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "leaderboard",
        help="train models for a task's leaderboard, or regenerate and print it",
        description="`run` trains and scores each model for each seed and size, then writes "
        "leaderboards/<task>.csv and .md; every run also writes one result file under "
        "leaderboards/<board>/runs/, and `run` skips a (model, size, seed) that already has a "
        "finished one and continues a run that was cut off from its last checkpoint. `show` "
        "regenerates both tables from the result files and prints the "
        "table (--from-mlflow first writes the files of runs tracked before result files "
        "existed). Runs of another task version or data checksum are refused. `readme` rewrites the "
        "generated results sections of README.md and leaderboards/studies/README.md and the "
        "budgets and floors sections of tasks/README.md from the committed CSVs and cards.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_p = actions.add_parser("run", help="train + evaluate, then write the leaderboard")
    show_p = actions.add_parser("show", help="regenerate the leaderboard from its result files")
    show_p.add_argument(
        "--from-mlflow",
        action="store_true",
        help="first write the result file of every run tagged for this board in the MLflow store",
    )
    add_p = actions.add_parser(
        "add",
        help="score submitted predictions files (one per seed) and add them to the board",
        description="Score one test-split predictions file per seed (made by any code; see "
        "roma_bench.evaluate_predictions) on the spot, write their result files marked external, "
        "then regenerate the board.",
    )
    add_p.add_argument("--predictions", nargs="+", required=True, metavar="FILE",
                       help="predictions files (.h5/.npz), file i is seed i")  # fmt: skip
    add_p.add_argument("--name", required=True, help="the row's model name on the board")
    add_p.add_argument("--params", type=int, default=0, help="the model's parameter count")
    for sub in (run_p, show_p, add_p):
        sub.add_argument("--task", required=True, help="task card name, e.g. km-tiny")
        sub.add_argument("--tracking-uri", help="MLflow tracking URI (default runs/mlflow.db)")
        sub.add_argument("--out", metavar="DIR", help="leaderboard folder (default leaderboards/)")
        sub.add_argument("--board", help="leaderboard name (tag roma.leaderboard; default: task)")
        sub.add_argument("--only-current", action="store_true",
                         help="leave out runs of other task versions instead of refusing")  # fmt: skip
    run_p.add_argument("--models", help="comma-separated model names (default: all registered)")
    run_p.add_argument("--sizes", default="tiny", help="comma-separated sizes (default tiny)")
    run_p.add_argument(
        "--seeds", type=count_arg, default=3, help="seeds 0..N-1 per model (default 3)"
    )
    run_p.add_argument(
        "--steps", type=steps_arg,
        help="training steps per run (default: the card's budget, with its warm-up and the "
        "tuned learning rates of leaderboards/<task>.tuning.csv; other steps keep that shape "
        "and those rates, warm-up scaled; 300 for a card without a budget)",
    )  # fmt: skip
    run_p.add_argument("--learning-task", choices=["forecast", "effective"], default="forecast")
    run_p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    add_set_argument(run_p, "training config override for every run")
    run_p.add_argument("--quiet", action="store_true", help="no progress bars")
    run_p.add_argument("--shard", type=shard_arg, metavar="I/N",
                       help="run only shard I of N of the (model, size, seed) runs (I = 1…N) and "
                       "write their result files; `leaderboard show` assembles the board")  # fmt: skip
    readme_p = actions.add_parser(
        "readme",
        help="regenerate the results sections of README.md, leaderboards/studies/README.md and "
        "tasks/README.md",
        description="Rewrite the generated sections (between their <!-- results:begin --> / "
        "<!-- studies:begin --> / <!-- budgets:begin --> / <!-- floors:begin --> markers) from "
        "the committed CSVs and cards: leaderboards/<task>.csv (results; its floor rows give "
        "tasks/README.md's floors), leaderboards/studies/*.csv, and each card's budget with "
        "its doubling check leaderboards/budgets/<task>.csv (see roma_bench.results_sections "
        "and roma_bench.task_sections). Run it after every board, study or budget-check CSV "
        "change; a test fails while a section is stale.",
    )
    readme_p.add_argument("--root", type=Path, default=Path("."),
                          help="the checkout whose READMEs to rewrite (default: .)")  # fmt: skip
    readme_p.add_argument("--check", action="store_true",
                          help="write nothing; exit 1 naming every stale section")  # fmt: skip
    parser.set_defaults(handler=run)


def current_reference(task: str) -> tuple[str, str | None]:
    """The task card's version and, when its data exists, the store's checksum."""
    from roma_bench.cards import load_card
    from roma_bench.paths import task_data_path

    card = load_card(task)
    checksum = None
    path = task_data_path(card.name)
    if path.exists():
        from roma_bench.data.store import TaskStore

        checksum = str(TaskStore(path).checksum)
    return card.version, checksum


def show_command(task: str, board: str | None, out) -> str:
    """The ``leaderboard show`` command that regenerates this board."""
    parts = ["roma-bench leaderboard show", f"--task {task}"]
    if board and board != task:
        parts.append(f"--board {board}")
    if out:
        parts.append(f"--out {out}")
    return " ".join(parts)


def regenerate(
    task: str, tracking_uri: str, out, only_current: bool, board_name=None, stream=None,
    from_mlflow: bool = False,
):  # fmt: skip
    """Build the leaderboard from its result files, write its tables and print the Markdown.

    ``from_mlflow``: first export every tracked run of the board into result files.
    """
    stream = stream or sys.stdout
    from pathlib import Path

    from roma_bench.board_files import to_markdown, write_leaderboard
    from roma_bench.cli import UsageError
    from roma_bench.leaderboard import LeaderboardError, build_leaderboard
    from roma_bench.results import export_tracked_runs, read_results, results_dir

    version, checksum = current_reference(task)
    folder = results_dir(board_name or task, out)
    if from_mlflow:
        export_tracked_runs(task, tracking_uri, board_name, folder)
    try:
        records = read_results(folder)
        board = build_leaderboard(task, records, version, checksum,
                                  exclude_mismatched=only_current)  # fmt: skip
    except LeaderboardError as err:
        raise UsageError(str(err)) from None
    command = show_command(task, board_name, out)
    source = f"the result files in {folder}"
    csv_path, md_path = write_leaderboard(board, source, Path(out) if out else None, command)
    print(to_markdown(board, source, command), file=stream)
    print(f"wrote {csv_path} and {md_path}", file=stream)
    return board


def reproduce_command(args: argparse.Namespace, models: list[str], sizes: list[str]) -> str:
    """The exact ``leaderboard run`` command of these arguments (models spelled out)."""
    from roma_bench.cards import load_card
    from roma_bench.training.config import TrainConfig

    parts = ["roma-bench leaderboard run", f"--task {args.task}", f"--models {','.join(models)}",
             f"--sizes {','.join(sizes)}", f"--seeds {args.seeds}"]  # fmt: skip
    if args.steps is not None:
        parts.append(f"--steps {args.steps}")
    elif load_card(args.task).budget is None:  # else: the card's budget, the same again
        parts.append(f"--steps {TrainConfig.model_fields['steps'].default}")
    if args.learning_task != "forecast":
        parts.append(f"--learning-task {args.learning_task}")
    parts += [f"--set {shlex.quote(o)}" for o in args.overrides]
    if args.board:
        parts.append(f"--board {args.board}")
    return " ".join(parts)


def readme(args: argparse.Namespace) -> int:
    """``leaderboard readme``: rewrite (or with ``--check`` compare) the generated sections."""
    from roma_bench.cli import UsageError
    from roma_bench.results_sections import SectionError, stale_sections, write_sections

    try:
        if args.check:
            stale = stale_sections(args.root)
            for name in stale:
                print(f"stale generated section: {name} (run `roma-bench leaderboard readme`)",
                      file=sys.stderr)  # fmt: skip
            return 1 if stale else 0
        for path in write_sections(args.root):
            print(f"wrote {path}")
    except (SectionError, FileNotFoundError) as err:
        raise UsageError(str(err)) from None
    return 0


def run(args: argparse.Namespace) -> int:
    from roma_bench.registry import available_models
    from roma_bench.tracking.runs import resolve_tracking_uri

    if args.action == "readme":
        return readme(args)
    uri = resolve_tracking_uri(args.tracking_uri)
    if args.action == "run":
        from roma_bench.results import run_leaderboard

        models = args.models.split(",") if args.models else available_models()
        models = [m.strip() for m in models if m.strip()]
        sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
        command = reproduce_command(args, models, sizes)
        results = run_leaderboard(
            args.task, models, sizes=sizes, board=args.board, seeds=args.seeds,
            steps=args.steps, learning_task=args.learning_task, tracking_uri=uri,
            command=command, device=args.device, progress=not args.quiet,
            overrides=args.overrides, folder=args.out, shard=args.shard or (1, 1),
        )  # fmt: skip
        failed = [r for r in results if r.status != "FINISHED"]
        for r in failed:
            print(f"run {r.run_id} {r.status}: {r.message}", file=sys.stderr)
        if args.shard and args.shard[1] > 1:  # other shards may still be writing their files
            print(f"shard {args.shard[0]}/{args.shard[1]}: {len(results)} run(s) written; "
                  f"assemble the board with: {show_command(args.task, args.board, args.out)}",
                  file=sys.stderr)  # fmt: skip
            return 0
    if args.action == "add":
        from roma_bench.results import add_external, results_dir

        command = " ".join(
            ["roma-bench leaderboard add", f"--task {args.task}", f"--name {args.name}",
             "--predictions", *map(shlex.quote, args.predictions)]
        )  # fmt: skip
        folder = results_dir(args.board or args.task, args.out)
        for path in add_external(args.task, args.predictions, args.name, folder, command,
                                 args.params):  # fmt: skip
            print(f"wrote {path}", file=sys.stderr)
    regenerate(args.task, uri, args.out, args.only_current, args.board,
               from_mlflow=getattr(args, "from_mlflow", False))  # fmt: skip
    return 0
