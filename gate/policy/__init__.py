"""Policy as code: `.github/risk-gate.yml` validated with line numbers, loaded; decide().

Imports model, features and the bottom layer; never pulls, deploys, reports or anything above.
"""
