"""The `train` side of the SageMaker training contract."""
