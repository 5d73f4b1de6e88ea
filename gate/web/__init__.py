"""The release managers' console: sign in with GitHub, see what waits, approve, read reports."""
