"""Code shared by the three task Lambdas: settings, input validation, naming, the run record's schema, its claim
and its writes. The CDK app, the engine and the operator CLI import it too; it imports none of them."""
