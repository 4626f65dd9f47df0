"""What the agent trusts: the CA bundle, TLS reachability, and its own certificate and its renewal."""
