"""The second engine: AWS's multi-model-server, with our pipeline as its handler service."""
