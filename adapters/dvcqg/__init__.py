"""National Public Service Portal (DVCQG): sync of dossiers and progress, look-ups for reconciliation, online
dossiers pushed to the gateway, and a simulator of the portal; none of it imports `gateway`."""
