"""Studies over trained models: transfer between learning tasks, scaling laws, noise robustness.

Each study is one parent MLflow run whose training runs are nested under it, and writes a
CSV, a PNG plot and a markdown summary under ``<leaderboard_dir>/studies/``.
"""

from roma_bench.studies.scaling import PowerLawFit, fit_power_law

__all__ = ["PowerLawFit", "fit_power_law"]
