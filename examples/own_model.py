"""Train your own plain-torch model on a roma-bench task and score it like the boards do.

    python examples/own_model.py --task km-tiny --steps 200

Data: ``TrainWindows`` (item k = the k-th training batch, a torch Dataset) and ``EvalWindows``
(the stored test windows). Each batch has ``history`` [n, κ], ``target`` [n, H] and
``edge_index`` [2, E]; nothing here needs DGL. Scoring: ``evaluate_predictions`` on the
rolled-out trajectories [W, n, R].
"""

from __future__ import annotations

import argparse
import json

import torch
from torch import nn
from torch.utils.data import DataLoader

from roma_bench import EvalWindows, TrainWindows, evaluate_predictions


class NeighbourMLP(nn.Module):
    """Predicts the next H increments from a node's and its neighbours' mean recent increments."""

    def __init__(self, lookback: int, horizon: int, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(2 * (lookback - 1), hidden), nn.GELU(), nn.Linear(hidden, horizon)
        )

    def forward(self, history: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        steps = history.diff(dim=1)  # [n, κ-1] offset-free increments
        src, dst = edge_index
        total = torch.zeros_like(steps).index_add_(0, dst, steps[src])
        count = torch.zeros(len(steps), 1).index_add_(0, dst, torch.ones(len(src), 1))
        features = torch.cat([steps, total / count.clamp(min=1)], dim=1)
        return history[:, -1:] + self.net(features).cumsum(dim=1)  # [n, H] field values


@torch.no_grad()
def predict(model: NeighbourMLP, task: str) -> torch.Tensor:
    """Autoregressive trajectories [W, n, R] over the stored test windows."""
    trajectories = []
    for batch in EvalWindows(task, "test").batches():
        history, frames = batch.history, []
        while sum(f.shape[1] for f in frames) < batch.future.shape[1]:
            frames.append(model(history, batch.edge_index))
            history = torch.cat([history, frames[-1]], dim=1)[:, -batch.lookback :]
        trajectories.append(torch.cat(frames, dim=1)[:, : batch.future.shape[1]])
    return torch.stack(trajectories)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="km-tiny")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    windows = TrainWindows(args.task, seed=0, length=args.steps)
    first = windows[0]
    model = NeighbourMLP(first.lookback, first.horizon)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for batch in DataLoader(windows, batch_size=None, num_workers=args.workers):
        change = batch.target - batch.history[:, -1:]  # train on changes (offset-free)
        predicted = model(batch.history, batch.edge_index) - batch.history[:, -1:]
        loss = (predicted - change).square().mean() / change.square().mean().clamp(min=1e-12)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    scores = evaluate_predictions(args.task, "test", predict(model, args.task))
    print(json.dumps(scores, indent=1))
    return scores


if __name__ == "__main__":
    main()
