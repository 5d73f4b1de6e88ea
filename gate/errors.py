"""Errors that retrying cannot fix."""


class PermanentError(RuntimeError):
    """The job can never succeed as it is: fail it now, without retries."""


class MalformedPayload(PermanentError):
    """The delivery lacks fields the handler needs."""
