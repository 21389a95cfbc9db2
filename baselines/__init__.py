"""Baseline models; importing this package registers every baseline by name."""
