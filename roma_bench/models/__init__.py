"""Models: the protocol (:mod:`roma_bench.models.base`) and ROMA (:mod:`roma_bench.models.roma`)."""
