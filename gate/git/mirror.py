"""Bare local mirrors of repositories, fetched incrementally, one writer at a time."""

from __future__ import annotations

import fcntl
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from gate.git.cmd import GitError, git, resolve
from gate.git.objects import ObjectReaders

_SAFE_PART = re.compile(r"^[A-Za-z0-9._-]+$")


class MissingCommit(RuntimeError):
    """A commit the change needs is not in the mirror even after fetching."""


def clone_url(
    template: str | None, full_name: str, payload_clone_url: str | None, token: str
) -> str:
    """Where to fetch a repository from: the template, or the payload's URL with the token."""
    owner, _, repo = full_name.partition("/")
    if template:
        return template.format(
            owner=owner, repo=repo, full_name=full_name, token=token, clone_url=payload_clone_url
        )
    if not payload_clone_url or not payload_clone_url.startswith("https://"):
        raise ValueError(f"no https clone URL for {full_name}")
    return payload_clone_url.replace("https://", f"https://x-access-token:{token}@", 1)


def web_url(api_url: str, full_name: str) -> str:
    """The repository's https clone URL on github.com or a GitHub Enterprise Server."""
    host = urlsplit(api_url).netloc
    host = "github.com" if host == "api.github.com" else host
    return f"https://{host}/{full_name}.git"


class Mirrors:
    """One bare mirror per repository under `root`; fetches into a mirror are serialised.

    `objects` keeps a reader open on each mirror, for lookups that need no git process.
    """

    def __init__(self, root: Path, objects: ObjectReaders | None = None) -> None:
        self.root = root
        self.objects = objects or ObjectReaders()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def path(self, full_name: str) -> Path:
        owner, _, repo = full_name.partition("/")
        if not (_SAFE_PART.match(owner) and _SAFE_PART.match(repo)) or repo in (".", ".."):
            raise ValueError(f"unsafe repository name {full_name!r}")
        return self.root / owner / f"{repo}.git"

    def is_warm(self, full_name: str) -> bool:
        return (self.path(full_name) / "HEAD").is_file()

    def ensure(
        self,
        full_name: str,
        url: str,
        refspecs: list[str],
        need: list[str],
        force_fetch: bool = False,
    ) -> Path:
        """Fetch `refspecs` unless every commit in `need` is already there; return the mirror."""
        path = self.path(full_name)
        # under the lock: a fetch in progress may have written a commit but not yet its tree
        with self._lock(full_name):
            if not (path / "HEAD").is_file():
                path.mkdir(parents=True, exist_ok=True)
                git(path, "init", "--quiet", "--bare")
            if not refspecs or (not force_fetch and self._has_all(path, need)):
                return path
            problems = []
            try:
                self._fetch(path, url, refspecs)
            except GitError:
                # one missing ref fails the whole fetch: get what exists, one by one
                for refspec in refspecs:
                    try:
                        self._fetch(path, url, [refspec])
                    except GitError as error:
                        problems.append(str(error))
            missing = [sha for sha in need if not resolve(path, sha)]
            if missing:
                # a force-pushed PR can leave its old head reachable only by SHA
                try:
                    self._fetch(path, url, missing)
                except GitError as error:
                    problems.append(str(error))
                missing = [sha for sha in need if not resolve(path, sha)]
            if missing:
                why = f" ({'; '.join(problems)})" if problems else ""
                raise MissingCommit(f"{full_name}: commits {', '.join(missing)} not found{why}")
            return path

    def _has_all(self, path: Path, need: list[str]) -> bool:
        objects = self.objects.get(path)
        return all(objects.commit_sha(sha) for sha in need)

    def _fetch(self, path: Path, url: str, refspecs: list[str]) -> None:
        try:
            git(path, "fetch", "--quiet", "--no-tags", "--prune", url, *refspecs, timeout=600)
        except GitError as error:
            # the URL can carry a token: never let it reach a log or the store
            raise GitError(str(error).replace(url, "<repository>")) from None

    @contextmanager
    def _lock(self, full_name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(full_name, threading.Lock())
        path = self.path(full_name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with lock, open(path.parent / f".{path.name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
