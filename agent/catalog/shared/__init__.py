"""Helpers several causes use (site access, OneDrive fleet, app keys, CA evaluation); none registered."""
