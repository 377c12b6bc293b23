"""The API client and its cache: the only layer that talks to the Kubernetes API server."""
