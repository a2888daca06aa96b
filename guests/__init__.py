"""Bare-metal RISC-V guest test programs for rvjit (built by guests.build)."""
