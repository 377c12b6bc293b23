"""The command line: `run` (the operator), `crd`, `render` (render.py) and `advise` (advise.py)."""

from .main import main

__all__ = ["main"]
