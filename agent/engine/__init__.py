"""A run's lifecycle: detect, plan, approve, fix, verify, journal, undo; only the engine knows its order."""
