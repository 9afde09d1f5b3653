"""Observations -> series; baselines; anomaly scores."""
