"""The user's own code, wherever SageMaker says it is: fetched and unpacked for `train` and `serve`."""
