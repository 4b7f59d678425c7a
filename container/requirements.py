"""Print the image's Python requirements, one per line, from pyproject.toml.

The image installs the project's dependencies plus the `image` extra (what only the image
needs: the second engine and skops). pyproject.toml is the one place they are declared;
exact versions come from constraints.txt, applied by whoever installs them.

usage: python3 container/requirements.py [--build] [PYPROJECT]
  --build    also print [build-system] requires: what pip needs to build the project's
             own wheel where no package index is reachable
  PYPROJECT  default: the pyproject.toml beside this folder

Runs on the build machine and inside the image's build, so it needs only the standard library.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

EXTRA = "image"


def requirements(pyproject: Path, build: bool = False) -> list[str]:
    data = tomllib.loads(pyproject.read_text())
    project = data["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"][EXTRA]]
    if build:
        wanted += data["build-system"]["requires"]
    return wanted


def main(argv: list[str]) -> None:
    build = "--build" in argv
    paths = [arg for arg in argv if arg != "--build"]
    pyproject = Path(paths[0]) if paths else Path(__file__).resolve().parents[1] / "pyproject.toml"
    print("\n".join(requirements(pyproject, build)))


if __name__ == "__main__":
    main(sys.argv[1:])
