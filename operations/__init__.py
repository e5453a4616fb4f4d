"""Operating the deployed pipeline."""
