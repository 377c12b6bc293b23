"""Metrics: the operator's own series (operator.py), the fleet gauges it keeps (fleet_gauges.py), and the names
of the series the engines export (engines.py, a pure table the PodMonitor and the alerts are written from)."""
