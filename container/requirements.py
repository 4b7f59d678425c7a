"""Print the image's Python requirements, one per line, from pyproject.toml.

The slim image installs the project's dependencies; the full image adds the `mms` extra
(AWS's multi-model-server, driven by sagemaker-inference). pyproject.toml is the one place
they are declared; exact versions come from constraints.txt, applied by whoever installs them.

usage: python3 container/requirements.py [--extra mms | --build] [PYPROJECT]
  (none)       the dependencies: what the slim image installs
  --extra mms  only that extra: what the full image installs on top
  --build      everything both images install, plus [build-system] requires: what the
               wheel cache must hold where no package index is reachable
  PYPROJECT    default: the pyproject.toml beside this folder

Runs on the build machine and inside the image's build, so it needs only the standard library.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

FULL_IMAGE_EXTRA = "mms"


def requirements(pyproject: Path, extra: str | None = None, build: bool = False) -> list[str]:
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    extras = project["optional-dependencies"]
    if extra is not None:
        return list(extras[extra])
    wanted = list(project["dependencies"])
    if build:
        wanted += [*extras[FULL_IMAGE_EXTRA], *data["build-system"]["requires"]]
    return wanted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--extra", choices=[FULL_IMAGE_EXTRA])
    choice.add_argument("--build", action="store_true")
    parser.add_argument(
        "pyproject", nargs="?", type=Path, default=Path(__file__).resolve().parents[1] / "pyproject.toml"
    )
    args = parser.parse_args(argv)
    print("\n".join(requirements(args.pyproject, args.extra, args.build)))


if __name__ == "__main__":
    main()
