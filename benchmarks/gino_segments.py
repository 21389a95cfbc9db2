"""GINO's training step with ``neuralop``'s per-point ``segment_csr`` loop vs ours, one process.

Both variants run the same ``gino`` (tiny) on the same ``card.batch.nodes``-node training
subgraphs of a task store (``--store``; default: km-tiny generated into a temporary folder),
forward + loss + backward + AdamW, interleaved round by round so that a shared machine's
load hits both alike. Prints the median seconds per step of each and the ratio ours/loop;
the forward outputs agree to float32 rounding (printed).

    python benchmarks/gino_segments.py [--store PATH.h5] [--rounds 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's baselines/

from neuralop.layers import integral_transform

from baselines import segments
from roma_bench.cards import load_card
from roma_bench.data.generation import generate_task
from roma_bench.data.loader import WindowLoader
from roma_bench.data.spec import task_spec
from roma_bench.data.store import TaskStore
from roma_bench.registry import build_model
from roma_bench.training.normalization import harness_model

VARIANTS = {"loop": segments._NEURALOP_SEGMENT_CSR, "ours": segments.segment_csr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", type=Path, help="task store (.h5); default: km-tiny, generated")
    parser.add_argument("--rounds", type=int, default=10, help="timed steps per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or generate_task(load_card("km-tiny"), Path(tmp) / "km-tiny.h5")
        store = TaskStore(path)
        loader = WindowLoader(store, "train", seed=0)
        batches = [loader.sample() for _ in range(4)]
        spec, normalization = task_spec(store.card), store.normalization
    harnesses, optimizers = {}, {}
    for name in VARIANTS:
        torch.manual_seed(0)
        model = build_model("gino", spec, "tiny")
        harnesses[name] = harness_model(model, normalization, "increments")
        optimizers[name] = torch.optim.AdamW(model.parameters(), 1e-3)

    def step(name: str, k: int) -> float:
        integral_transform.segment_csr = VARIANTS[name]
        batch = batches[k % len(batches)]
        start = time.perf_counter()
        out = harnesses[name](batch)
        loss = (out.prediction - batch.target).square().mean()
        optimizers[name].zero_grad(set_to_none=True)
        loss.backward()
        optimizers[name].step()
        return time.perf_counter() - start

    with torch.no_grad():
        outputs = []
        for name in VARIANTS:
            integral_transform.segment_csr = VARIANTS[name]
            outputs.append(harnesses[name](batches[0]).prediction)
    diff = (outputs[0] - outputs[1]).abs().max().item()
    for name in VARIANTS:  # warm-up
        step(name, 0)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for k in range(args.rounds):
        for name in VARIANTS:
            times[name].append(step(name, k))
    segments.install()
    loop, ours = (statistics.median(times[name]) for name in VARIANTS)
    print(
        f"gino tiny, {spec.num_nodes}-node graph, {batches[0].num_nodes}-node batches, "
        f"{torch.get_num_threads()} thread(s); max |Δ prediction| before training {diff:.2e}"
    )
    print(
        f"neuralop loop {loop * 1e3:.1f} ms/step   ours {ours * 1e3:.1f} ms/step   "
        f"ratio ours/loop {ours / loop:.2f}"
    )


if __name__ == "__main__":
    main()
