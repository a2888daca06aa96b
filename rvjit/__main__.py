"""Allow `python -m rvjit`."""

from rvjit.cli import console_main

console_main()
