"""Tenants: the teams one deployment serves, each isolated from the others (docs/tenants.md).

``ids`` holds the tenant id rule and the owner ids (``acme/ana``) that separate tenants' work,
``service`` creates and suspends tenants, ``directory`` answers whether one is active (cached a
couple of seconds), ``files`` holds a tenant's files (its prefix of the artifact store) and
``lifecycle`` exports and deletes whole tenants.
"""
