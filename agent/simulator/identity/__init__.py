"""The simulated Entra ID: token endpoint, discovery, user realm, device code and consent."""
