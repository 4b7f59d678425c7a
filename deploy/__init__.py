"""Deploy the image to SageMaker: endpoints, multi-model endpoints, batch transform, scaling.

The command line (`python -m deploy`, `sklearn-deploy`) is a thin layer over these
functions, which take an `Aws` (a boto3 session plus an optional endpoint URL) and report
progress through a callback, so scripts and notebooks can call them directly.
"""

from __future__ import annotations

from deploy.autoscale import Scaling, configure_autoscaling
from deploy.aws import Aws
from deploy.endpoints import Hosting, delete_endpoint, deploy_endpoint, deploy_multi_model_endpoint
from deploy.errors import DeployError
from deploy.invoke import Answer, invoke_endpoint
from deploy.multi_model import add_model, list_models
from deploy.transform import TransformResult, TransformSettings, run_transform
from deploy.waiting import Waiting

__all__ = [
    "Answer",
    "Aws",
    "DeployError",
    "Hosting",
    "Scaling",
    "TransformResult",
    "TransformSettings",
    "Waiting",
    "add_model",
    "configure_autoscaling",
    "delete_endpoint",
    "deploy_endpoint",
    "deploy_multi_model_endpoint",
    "invoke_endpoint",
    "list_models",
    "run_transform",
]
