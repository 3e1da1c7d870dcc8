"""HTTP API, one module per audience."""
