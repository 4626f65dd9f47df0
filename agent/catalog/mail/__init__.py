"""Causes of mail connectors (Exchange Online, on-premises EWS): one module per playbooks/mail/ file."""
