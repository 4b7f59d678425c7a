"""A SageMaker inference server for scikit-learn models."""

__version__ = "0.1.0"
