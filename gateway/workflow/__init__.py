"""Dossier workflow: intake, the lifecycle state machine, agency progress."""
