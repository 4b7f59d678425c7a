"""A local SageMaker: the hosting and batch transform APIs on loopback, backed by real containers."""
