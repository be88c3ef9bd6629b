"""Ray Serve entry points for the videoai HTTP API (``serve.app:app``, ``serve/config.yaml``)."""
