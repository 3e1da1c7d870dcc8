"""National Public Service Portal (DVCQG): sync of dossiers and progress; built by its own issue."""
