"""The local rehearsal of a refresh (`make demo`)."""
