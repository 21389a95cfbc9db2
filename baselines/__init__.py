"""Baseline models; importing this package registers every baseline by name.

One module per family (``baselines/TEMPLATE.md`` explains how to add one):

- :mod:`baselines.floors`: ``persistence``, ``linear``, ``oracle``
- :mod:`baselines.autoregression`: ``ar`` (least-squares autoregression on increments)
- :mod:`baselines.deeponet`: ``don``, ``don-mp``, ``nomad-mp``
- :mod:`baselines.deeponet_pi`: ``don-pi``, ``don-mp-pi``, ``nomad-mp-pi``
- :mod:`baselines.neural_operators`: ``fno``, ``tfno``, ``gino`` (``neuralop`` classes)
- :mod:`baselines.gnn`: ``gcn``, ``gat`` (``dgl.nn`` layers), ``mpnn``

Shared building blocks (input scaling, MLPs, Poincaré-disk coordinates) live in
:mod:`baselines.common`.
"""

from baselines import autoregression, deeponet, deeponet_pi, floors, gnn, neural_operators

__all__ = ["autoregression", "deeponet", "deeponet_pi", "floors", "gnn", "neural_operators"]
