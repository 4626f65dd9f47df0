"""Scenarios: the Contoso tenant and the breaks that put one cause into it."""
