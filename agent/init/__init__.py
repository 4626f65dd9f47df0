"""`agent init`: first contact with a real tenant, from its domain to a working, journaled agent app."""
