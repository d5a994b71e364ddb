"""Governance: first sign-in provisioning, the session, plan ladders and the entitlements that govern the pool."""
