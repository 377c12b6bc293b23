"""The EngineBuild reconcile: observe.py -> desired.py (with status.py) -> act.py, glued in reconcile.py."""
