"""In-process emulators for running the refresh workflow locally."""
