"""Code shared by the three task Lambdas: settings, input validation, naming, the run record."""
