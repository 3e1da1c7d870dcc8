"""Pages people read in a browser: the citizen's /tra-cuu and the printable receipt (form 01)."""
