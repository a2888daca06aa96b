"""Allow `python -m rvjit`."""

from rvjit.cli import main

main()
