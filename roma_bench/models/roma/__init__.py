"""ROMA: Renormalized Operators with Multiscale Attention (registered as ``roma``)."""
