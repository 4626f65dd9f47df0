"""The simulated Microsoft Graph: users, applications, service principals, policies, sites, drives."""
