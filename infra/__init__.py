"""The CDK constructs of the Personalize refresh pipeline."""
