"""OWNER/NAME of a clone, from its origin URL when that URL is a hosted (GitHub-like) one."""

from __future__ import annotations

import re
from pathlib import Path

from gate.git.cmd import GitError, git

# https://host/owner/name(.git), ssh://git@host[:port]/owner/name, git://host/owner/name
_URL = re.compile(
    r"^(?:https?|ssh|git)://(?:[^@/]+@)?[^/:]+(?::\d+)?/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$"
)
# scp-like: git@host:owner/name(.git)
_SCP = re.compile(r"^[\w.-]+@[\w.-]+:([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


def hosted_name(url: str) -> str | None:
    """owner/name of a hosted repository URL; None for a local path or file:// URL."""
    match = _URL.match(url) or _SCP.match(url)
    return f"{match.group(1)}/{match.group(2)}" if match else None


def origin_name(repo: Path) -> str | None:
    """owner/name from the clone's origin remote, when it has one that names a hosted repository."""
    try:
        url = git(repo, "remote", "get-url", "origin").decode().strip()
    except GitError:
        return None
    return hosted_name(url)
