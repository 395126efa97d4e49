"""`python -m steadyml` is the `steady` command."""

from steadyml.cli import main

main()
