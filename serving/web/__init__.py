"""Our engine: the Flask routes of the SageMaker contracts, run under gunicorn."""
