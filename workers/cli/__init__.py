"""The `telequeue` command (commands.py) and its progress display (progress.py)."""
