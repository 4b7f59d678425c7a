"""Compile bytecode for the modules `serve` and `train` import, and only for them.

pip compiles every module it installs, and Debian the whole standard library: about 100 MB
of bytecode in the slim image, most of it for modules no container of ours imports (SciPy's
and pandas' corners, pip, setuptools, every botocore service). Without bytecode a module is
compiled again at every start, and a read-only root cannot cache it: for what `serve`
imports, about 2 s of start-up. So the dependencies are installed with
`pip install --no-compile`, the standard library's bytecode is deleted, and this imports what
a start imports, as it imports it, with bytecode writing on: Python writes exactly the
bytecode a start reads. A module outside this list still works; it is compiled in memory
when first imported.

usage (in the image's build, after the project is installed):
  PYTHONDONTWRITEBYTECODE= python3 -P container/bytecode.py
  (-P: import the installed packages, not the sources beside this file)

Standard library only at module level: it runs in the image's Python.
"""

from __future__ import annotations

import importlib
import sys

# What a start imports: the server and the modules it loads before forking, the models users
# ship (forests, boosting, linear models, DataFrame pipelines, skops files), the codecs, the
# trainer, and the user code's s3:// fetch; and what the compiled predict path imports when
# it builds (its converter child starts again after a minute without work).
STARTUP_MODULES = (
    "serving.cli",
    "serving.web.server",
    "serving.mms.engine",
    "mms.model_service_worker",
    "gunicorn.workers.gthread",
    "gunicorn.glogging",
    "prometheus_client",
    "threadpoolctl",
    "skops.io",
    "sklearn.compose",
    "sklearn.dummy",
    "sklearn.ensemble",
    "sklearn.feature_extraction.text",
    "sklearn.impute",
    "sklearn.linear_model",
    "sklearn.naive_bayes",
    "sklearn.neighbors",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.svm",
    "sklearn.tree",
    "training.cli",
    "training.forest",
    "training.housing",
    "usercode.fetch",
    "boto3",
    "serving.compiled.convert",
    "skl2onnx",
    "onnxruntime",
)


def main() -> None:
    if sys.dont_write_bytecode:
        sys.exit("bytecode: run with PYTHONDONTWRITEBYTECODE unset, or nothing is written")
    for name in STARTUP_MODULES:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the engine only the full image has
            print(f"bytecode: {name} is not installed here ({exc})", file=sys.stderr)
    import boto3

    # A client loads the endpoint, retry and signing modules an s3:// fetch needs.
    boto3.client("s3", region_name="us-east-1")
    print(f"bytecode: written for the {len(sys.modules)} modules a start imports")


if __name__ == "__main__":
    main()
