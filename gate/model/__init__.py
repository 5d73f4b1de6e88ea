"""The risk model: artifacts and scoring, which model scores a repository, reasons in plain words.

Imports features and the bottom layer (settings, store, git); never policy or anything above.
"""
