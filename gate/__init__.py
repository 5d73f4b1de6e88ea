"""riskgate: gate pull requests and deployments by learned risk."""

__version__ = "0.1.0"
