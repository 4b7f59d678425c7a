"""Deploying to SageMaker: build_and_push.sh and the deploy CLI, against moto and a local registry."""
