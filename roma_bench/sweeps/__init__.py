"""Optuna sweeps: search spaces, storages shared by many workers, and the sweep runner."""
