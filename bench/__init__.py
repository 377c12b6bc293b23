"""Fleet-scale benchmark of the operator against the API server's own floor (`make bench`, docs/benchmarks.md)."""
