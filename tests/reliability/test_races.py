"""Issue 15, failures 1-3: processes sharing a tracking store, a data file or a sweep."""

from __future__ import annotations

import pytest
from racing import race

TRACKING_SETUP = "from roma_bench.tracking.runs import TrackedRun"
TRACKING_ACTION = """
uri = f"sqlite:///{root / f'store-{round_}' / 'mlflow.db'}"
with TrackedRun("race", tracking_uri=uri, run_name=f"w{index}") as run:
    run.log_params({"worker": index})
print(run.run_id)
"""


@pytest.mark.timeout(300)
def test_four_processes_on_a_fresh_tracking_store(tmp_path):
    """Four processes open the same fresh SQLite store at once, three times over."""
    import mlflow

    rounds = 3
    finished = race(tmp_path, 4, TRACKING_SETUP, TRACKING_ACTION, rounds=rounds)
    for worker in finished:
        assert worker.returncode == 0, worker.stderr[-3000:]
    for round_ in range(rounds):
        uri = f"sqlite:///{tmp_path / f'store-{round_}' / 'mlflow.db'}"
        runs = mlflow.MlflowClient(uri).search_runs(
            [mlflow.MlflowClient(uri).get_experiment_by_name("race").experiment_id]
        )
        assert sorted(r.data.params["worker"] for r in runs) == ["0", "1", "2", "3"]
        assert {r.info.status for r in runs} == {"FINISHED"}
