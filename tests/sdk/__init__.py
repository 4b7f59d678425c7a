"""SageMaker Python SDK v2 local mode against the real image, with real docker compose."""
