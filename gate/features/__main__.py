"""`python -m gate.features` prints docs/features.md."""

import sys

from gate.features.catalog import markdown

sys.stdout.write(markdown())
