"""The run tables of ``budget check`` and ``budget tune``: one CSV row per finished training.

A row is ``model, steps, warmup_steps, seed, lr, val_metric`` (the tuning table adds
``chosen``); its key is ``(model, steps, warmup_steps, seed, lr)``: two runs of equal length
with different warm-ups are different runs (the doubling check pairs ``B`` with the ``2B``
run of twice its warm-up, the same schedule shape). :func:`merge_rows` adds rows to a table under the
table's file lock and rewrites it atomically, so a crash never loses a finished run, a
rerun skips what is already there (:func:`done_keys`), and several processes (``--shard
i/n``) can write one table at once.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from roma_bench.config import ConfigError
from roma_bench.files import atomic_write_text
from roma_bench.locks import file_lock

#: Columns every run table has, in order.
COLUMNS = ("model", "steps", "warmup_steps", "seed", "lr", "val_metric")

RowKey = tuple[str, int, int, int, float]


def row_key(row: dict) -> RowKey:
    """``(model, steps, warmup_steps, seed, lr)`` of a row (read from a CSV or freshly made)."""
    return (
        str(row["model"]), int(row["steps"]), int(row["warmup_steps"]), int(row["seed"]),
        float(row["lr"]),
    )  # fmt: skip


def _typed(row: dict, path: Path, line: int) -> dict:
    try:
        typed = dict(row)
        typed.update(
            model=str(row["model"]), steps=int(row["steps"]),
            warmup_steps=int(row["warmup_steps"]), seed=int(row["seed"]), lr=float(row["lr"]),
            val_metric=float(row["val_metric"]),
        )  # fmt: skip
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{path}, line {line}: {error}") from None
    if "chosen" in typed:
        typed["chosen"] = str(typed["chosen"]).strip().lower() == "true"
    return typed


def read_rows(path: Path, required: Sequence[str] = COLUMNS) -> list[dict]:
    """The rows of a run table with typed values; ``[]`` when the file does not exist.

    A :class:`ConfigError` names the file and the missing column or the bad line.
    """
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = set(required) - set(reader.fieldnames or ())
        if missing:
            hint = (
                " (a table from before warm-ups were recorded: add the column with each "
                "run's optim.warmup_steps)"
                if "warmup_steps" in missing
                else ""
            )
            raise ConfigError(f"{path}: missing column(s) {', '.join(sorted(missing))}{hint}")
        return [_typed(row, path, line) for line, row in enumerate(reader, 2)]


def csv_text(rows: Sequence[dict]) -> str:
    """Rows as CSV text (header from the first row; ``lr`` and floats written exactly)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def merge_rows(
    path: Path,
    rows: Iterable[dict],
    finish: Callable[[list[dict]], list[dict]] = lambda rows: rows,
) -> list[dict]:
    """Add ``rows`` to the table at ``path`` (a row with an existing key replaces it).

    Holds ``path``'s lock while reading and atomically rewriting, so concurrent writers
    never lose each other's rows. ``finish`` sees the whole merged table (in key order)
    before it is written, e.g. to mark each model's chosen rate. Returns what was written.
    """
    with file_lock(path):
        merged = {row_key(row): row for row in read_rows(path)}
        merged.update((row_key(row), dict(row)) for row in rows)
        table = finish([merged[key] for key in sorted(merged)])
        if table:
            atomic_write_text(path, csv_text(table))
    return table


def done_keys(rows: Iterable[dict]) -> set[RowKey]:
    """Keys of the rows that need no rerun (a NaN metric is a diverged run: a result too)."""
    return {row_key(row) for row in rows}


def mark_chosen(rows: list[dict]) -> list[dict]:
    """Per ``(model, steps, warmup_steps, seed)``: ``chosen`` on the row with the lowest finite metric.

    The first of equal values wins (rows are in key order, so the lower rate); a model
    whose every rate diverged has none chosen.
    """
    for row in rows:
        row["chosen"] = False
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        key = (row["model"], int(row["steps"]), int(row["warmup_steps"]), int(row["seed"]))
        groups.setdefault(key, []).append(row)
    for group in groups.values():
        finite = [r for r in group if math.isfinite(float(r["val_metric"]))]
        if finite:
            min(finite, key=lambda r: float(r["val_metric"]))["chosen"] = True
    return rows
