"""Experiment tracking with MLflow: where runs are stored, what each run records, its plots.

- :mod:`~roma_bench.tracking.runs`: the store (default SQLite ``./runs/mlflow.db``, artifacts
  in ``./runs/mlartifacts``; ``--tracking-uri``/``MLFLOW_TRACKING_URI`` for a server), one
  experiment per task, :class:`~roma_bench.tracking.runs.TrackedRun` (a crash marks it FAILED).
- :mod:`~roma_bench.tracking.environment`: tags for versions, git commit, hardware, peak memory.
- :mod:`~roma_bench.tracking.plots`: loss curves, prediction vs truth, R(t) truth vs prediction.
"""
