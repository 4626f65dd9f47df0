"""Causes of file connectors (OneDrive, app-only Graph): one module per playbook in playbooks/files/."""
