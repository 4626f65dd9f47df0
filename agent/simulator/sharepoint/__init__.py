"""The simulated SharePoint: site REST, tenant admin, CSOM and legacy sign-in."""
