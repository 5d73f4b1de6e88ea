"""Git plumbing: git processes, object readers, tree diffs, kept refs, bare mirrors, commit ranges.

The bottom layer beside store and github: imports only settings, logs, metrics and errors.
"""
