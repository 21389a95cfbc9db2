"""The on-disk cache of subgraph encodings: same values as computing them, robust to bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from roma_bench.data.datasets import TrainWindows
from roma_bench.data.encoding_cache import CACHE_ENV, LIMIT_ENV, EncodingCache
from roma_bench.data.loader import WindowLoader
from roma_bench.data.store import TaskStore


@pytest.fixture
def store_copy(micro_store: Path, tmp_path: Path, monkeypatch) -> Path:
    """A private copy of the micro store, so each test starts with an empty cache beside it."""
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.delenv(LIMIT_ENV, raising=False)
    path = tmp_path / "micro.h5"
    shutil.copy(micro_store, path)
    return path


def _cache_files(path: Path) -> list[Path]:
    return sorted(Path(f"{path}.encodings").glob("*/*.npy"))


def _encodings(path: Path, steps=range(4), seed: int = 0) -> tuple[list[torch.Tensor], object]:
    windows = TrainWindows(path, seed=seed)
    batches = [windows[k] for k in steps]
    return [b.encodings for b in batches], windows._loader.get().encoding_cache


def test_cached_encodings_are_bit_identical_to_computed_ones(store_copy, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, "off")
    computed, off = _encodings(store_copy)
    assert not off.enabled and _cache_files(store_copy) == []
    monkeypatch.delenv(CACHE_ENV)

    cold, first = _encodings(store_copy)
    assert (first.hits, first.misses) == (0, 4)
    assert len(_cache_files(store_copy)) == 4
    warm, second = _encodings(store_copy)
    assert (second.hits, second.misses) == (4, 0)
    for a, b, c in zip(computed, cold, warm):
        assert a.dtype == c.dtype == torch.float32
        assert torch.equal(a, b) and torch.equal(a, c)


def test_a_damaged_cache_file_is_recomputed_and_rewritten(store_copy):
    reference, _ = _encodings(store_copy, steps=[0])
    (entry,) = _cache_files(store_copy)
    entry.write_bytes(entry.read_bytes()[:40])  # truncated
    again, cache = _encodings(store_copy, steps=[0])
    assert (cache.hits, cache.misses) == (0, 1)
    assert torch.equal(again[0], reference[0])
    np.save(entry, np.zeros((3, 2), dtype=np.float32))  # readable, wrong shape
    third, cache = _encodings(store_copy, steps=[0])
    assert (cache.hits, cache.misses) == (0, 1) and torch.equal(third[0], reference[0])
    assert np.array_equal(np.load(entry), reference[0].numpy())


def test_the_key_names_the_store_settings_and_subgraph(store_copy):
    store = TaskStore(store_copy)
    loader = WindowLoader(store, "train", seed=0)
    one, two = (loader.sample(seed=s).graph for s in (1, 2))
    cache = loader.encoding_cache
    assert cache.key(one) == cache.key(one) and cache.key(one) != cache.key(two)
    enc = loader.card.encodings
    settings = (enc.laplacian, enc.random_walk, enc.laplacian_scope)
    same = EncodingCache.for_store(store)
    other_settings = EncodingCache(store.path, store.checksum, (*settings[:2], "component"))
    other_store = EncodingCache(store.path, "another checksum", settings)
    assert EncodingCache(store.path, store.checksum, settings).key(one) == cache.key(one)
    assert same.key(one) == cache.key(one)
    assert other_settings.key(one) != cache.key(one) != other_store.key(one)


def test_the_size_limit_stops_writing_but_not_reading(store_copy, monkeypatch):
    _encodings(store_copy, steps=[0])
    monkeypatch.setenv(LIMIT_ENV, "0")
    values, cache = _encodings(store_copy, steps=[0, 1])
    assert (cache.hits, cache.misses) == (1, 1)
    assert len(_cache_files(store_copy)) == 1  # the new one was not written
    assert values[1].shape[0] > 0


def test_an_unwritable_cache_folder_means_no_cache(store_copy, tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(CACHE_ENV, str(blocker / "cache"))
    values, cache = _encodings(store_copy, steps=[0, 1])
    assert not cache.enabled and cache.misses == 1  # gave up after the first failed write
    monkeypatch.setenv(CACHE_ENV, "off")
    reference, _ = _encodings(store_copy, steps=[0, 1])
    assert all(torch.equal(a, b) for a, b in zip(values, reference))
    assert not list(tmp_path.glob("*/*.tmp")) and not list(tmp_path.glob("*/*/*.tmp"))


def test_the_env_variable_moves_the_cache(store_copy, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "elsewhere"))
    _encodings(store_copy, steps=[0])
    assert len(list((tmp_path / "elsewhere").glob("*/*.npy"))) == 1
    assert _cache_files(store_copy) == []
