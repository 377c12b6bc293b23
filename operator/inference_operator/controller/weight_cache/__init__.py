"""Reconcile of WeightCache entries."""
