"""roma-bench: a benchmark suite for learned dynamics of complex systems on graphs.

ROMA (Renormalized Operators with Multiscale Attention) and neural-operator
baselines on Kuramoto-oscillator and Burgers-like social-dynamics tasks.
"""

__version__ = "0.1.0"

import os as _os

# DGL reads its backend at import; pin it so DGL never asks (and never prints about it).
_os.environ.setdefault("DGLBACKEND", "pytorch")
