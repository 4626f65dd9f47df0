"""Time-boxed grants: their lifetimes, what was granted, and what a listing shows."""
