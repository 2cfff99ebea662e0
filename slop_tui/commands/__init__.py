"""One module per `slop` sub-command; see `slop_tui/cli.py`."""
