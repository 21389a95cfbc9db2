"""Fixtures of the reliability suite: the training-harness doubles and subprocess helpers."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
