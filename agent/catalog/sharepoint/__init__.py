"""Causes of SharePoint site connectors: one module per playbook in playbooks/sharepoint/."""
