"""Training: load labelled changes, fit and evaluate models, write the artifacts gate loads."""
