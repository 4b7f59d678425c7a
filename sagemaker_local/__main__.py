"""`python -m sagemaker_local`: the same as the sagemaker-local command."""

import sys

from sagemaker_local.cli import main

sys.exit(main())
