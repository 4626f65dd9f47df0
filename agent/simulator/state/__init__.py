"""The simulated tenant's state (directory, policies, sites) that fixes repair and undos restore."""
