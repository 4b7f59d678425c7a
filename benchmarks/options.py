"""The command line every benchmark shares: which image to run, where to write the figures."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_IMAGE = "sklearn-sagemaker:latest"


def parser(doc: str | None, json_output: bool = True) -> argparse.ArgumentParser:
    """An argument parser showing the benchmark's docstring, with --image and (unless told
    otherwise) --json PATH for the figures as JSON."""
    made = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    made.add_argument("--image", default=DEFAULT_IMAGE, help="the image (container/build-image.sh TAG)")
    if json_output:
        made.add_argument("--json", type=Path, help="also write the figures to this file as JSON")
    return made
