"""The agent's configuration: tenants and connectors, secret references, clouds, a folder of files."""
