"""The pull-request side: assessing, checks, approvals, coverage intake.

Imports context, policy, model, features and the bottom layer; never deploys, webhooks, api or cli.
"""
