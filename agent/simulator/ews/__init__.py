"""The simulated Exchange Web Services endpoint: SOAP in, SOAP out, as Exchange Online answers."""
