"""Paper-style tables built from run records and the registry of reported numbers."""
