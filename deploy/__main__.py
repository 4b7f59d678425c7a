"""`python -m deploy ...`: the same command as the `sklearn-deploy` console script."""

from __future__ import annotations

import sys

from deploy.cli import main

sys.exit(main())
