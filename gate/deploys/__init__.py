"""Deployments: the protection rule, the post-deploy watch, the judge, rollback, Prometheus.

Imports pulls, reports and everything below them; never webhooks, api, jobs, app or cli.
"""
