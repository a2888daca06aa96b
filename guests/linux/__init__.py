"""Linux guest images for rvjit, built from Debian packages (see README.md)."""
