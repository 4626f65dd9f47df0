"""What the agent remembers: runs, results, changes and their undo data, pending plans, grants, locks."""
