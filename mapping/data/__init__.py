"""Data files of the mapping layer (see README.md here) and the script that builds the agency directory."""
