"""Reports: the autonomy report, the audit timeline, DORA's four figures.

Imports store and git only; never pulls, deploys or anything above.
"""
