"""Wire tests of the simulated tenant."""
