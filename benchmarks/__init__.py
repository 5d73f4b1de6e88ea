"""Reproducible benchmarks of the riskgate service; see benchmarks/README.md."""
