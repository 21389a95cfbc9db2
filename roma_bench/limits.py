"""Bounds on every numeric input, in one place.

A value outside these bounds is refused before any work starts, with the field named
(pydantic ``Field`` bounds in configs and cards; argparse ``type=`` functions below
on CLI flags, which print ``error: argument --seed: ...`` and exit 2). They are
far above anything this suite can run and far below what would overflow a counter or
spin for days: a seed must fit numpy's ``SeedSequence`` entropy word, a step count must
be countable in a human lifetime, a graph must fit in memory.
"""

from __future__ import annotations

#: Seeds are in ``[0, 2³²)`` (numpy ``RandomState`` seeds; torch accepts them too).
SEED_MAX = 2**32
#: Optimizer steps, integration steps, validation/checkpoint periods: at most 10⁹.
STEPS_MAX = 10**9
#: Nodes of a generated graph (and of any node count derived from it): at most 10⁸.
NODES_MAX = 10**8
#: Small counts (seeds of a leaderboard, trials of a sweep): at most 10⁶.
COUNT_MAX = 10**6


def _bounded_int(text: str, low: int, high: int, what: str) -> int:
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be in [{low}, {high}], got {value}")
    return value


def seed_arg(text: str) -> int:
    """argparse ``type=`` for a seed: an integer in ``[0, 2³²)``."""
    return _bounded_int(text, 0, SEED_MAX - 1, "a seed")


def steps_arg(text: str) -> int:
    """argparse ``type=`` for a step count: an integer in ``[1, 10⁹]``."""
    return _bounded_int(text, 1, STEPS_MAX, "a step count")


def count_arg(text: str) -> int:
    """argparse ``type=`` for a small positive count (seeds, trials, workers): ``[1, 10⁶]``."""
    return _bounded_int(text, 1, COUNT_MAX, "a count")


def shard_arg(text: str) -> tuple[int, int]:
    """argparse ``type=`` for ``--shard i/n``: shard ``i`` of ``n``, ``1 ≤ i ≤ n ≤ 10⁶``."""
    import argparse

    index, slash, count = text.partition("/")
    try:
        if not slash:
            raise ValueError
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a shard must be i/n (e.g. 1/4), got {text!r}") from None
    if not 1 <= i <= n <= COUNT_MAX:
        raise argparse.ArgumentTypeError(
            f"a shard i/n must have 1 ≤ i ≤ n ≤ {COUNT_MAX}, got {text}"
        )
    return i, n


def shard_position(shard: tuple[int, int]) -> tuple[int, int]:
    """``(i - 1, n)`` for shard ``i`` of ``n``: entry ``k`` of a plan split round-robin
    belongs to the shard when ``k mod n = i - 1``. Raises ``ValueError`` unless
    ``1 ≤ i ≤ n`` — the runners' guard for callers that bypass :func:`shard_arg`."""
    index, count = shard
    if not 1 <= index <= count:
        raise ValueError(f"shard {index}/{count}: expected 1 ≤ i ≤ n")
    return index - 1, count
