"""How DataLoader workers hand batches over: pickled with tensors as numpy arrays, losslessly."""

from __future__ import annotations

import dataclasses
import pickle

import torch

from roma_bench.data.datasets import TrainWindows
from roma_bench.training.data import dumps


def test_a_batch_survives_the_workers_pickling_field_by_field(km_tiny_store):
    batch = TrainWindows(km_tiny_store, seed=1)[3]
    copy = pickle.loads(dumps(batch))
    for field in dataclasses.fields(batch):
        ours, theirs = getattr(batch, field.name), getattr(copy, field.name)
        if isinstance(ours, torch.Tensor):
            assert ours.dtype == theirs.dtype and torch.equal(ours, theirs), field.name
        elif field.name != "graph":
            assert ours == theirs, field.name
    assert copy.graph.num_nodes() == batch.graph.num_nodes()
    for a, b in zip(copy.graph.edges(), batch.graph.edges()):
        assert torch.equal(a, b)
    assert copy.graph.ndata.keys() == batch.graph.ndata.keys()
    assert all(torch.equal(copy.graph.ndata[k], batch.graph.ndata[k]) for k in batch.graph.ndata)
    copy.history += 1  # the unpickled tensors own writable memory
    copy.validate()


def test_tensors_numpy_cannot_carry_keep_torchs_own_pickling():
    grad = torch.ones(3, requires_grad=True)
    items = {
        "bf16": torch.arange(4, dtype=torch.bfloat16),
        "strided": torch.arange(12.0).reshape(3, 4).t(),
        "int": torch.arange(5, dtype=torch.int32),
        "bool": torch.tensor([True, False]),
        "grad": grad,
        "conj": torch.tensor([1 + 2j]).conj(),
    }
    copy = pickle.loads(dumps(items))
    for name, tensor in items.items():
        assert copy[name].dtype == tensor.dtype, name
        assert torch.equal(copy[name].resolve_conj(), tensor.resolve_conj()), name
    assert copy["grad"].requires_grad
