"""The kopf runtime: handlers, the work queue, the one reconcile wrapper, kopf settings and storage, startup.

The only layer that imports kopf (`make lint` enforces it).
"""
