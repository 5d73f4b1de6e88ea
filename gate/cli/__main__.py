"""`python -m gate.cli`: the same as the `gate` console script."""

from gate.cli.main import main

main()
