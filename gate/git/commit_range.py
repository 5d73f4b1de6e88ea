"""A change's commits (base..head) and merge base, read without a git process when history is
a plain line from head back to base, which is what most assessed ranges are."""

from __future__ import annotations

from pathlib import Path

from gate.git import cmd as gitcmd
from gate.git.objects import Commit, ObjectReader

MAX_LINEAR_WALK = 64  # commits followed back from head before asking git instead

_SEP = "\x1f"


def linear_commits(
    objects: ObjectReader, base: str, head: str, limit: int = MAX_LINEAR_WALK
) -> list[Commit] | None:
    """base..head, newest first, when head reaches base through commits with one parent each.

    None when it does not within `limit` commits (a merge, a root, base not an ancestor, a
    commit whose message git would re-encode): git itself must answer then.
    """
    base_sha, head_sha = objects.commit_sha(base), objects.commit_sha(head)
    if base_sha is None or head_sha is None:
        return None
    walked: list[Commit] = []
    at = head_sha
    while at != base_sha:
        commit = objects.commit(at)
        if commit is None or len(commit.parents) != 1 or commit.reencoded or len(walked) >= limit:
            return None
        walked.append(commit)
        at = commit.parents[0]
    return walked


def merge_base(objects: ObjectReader, repo: Path, base: str, head: str) -> str:
    """The merge base of base and head: base itself when it is head's plain ancestor."""
    if linear_commits(objects, base, head) is not None:
        found = objects.commit_sha(base)
        assert found is not None
        return found
    return gitcmd.merge_base(repo, base, head)


def head_commit(
    repo: Path, base: str, head: str, objects: ObjectReader | None = None
) -> tuple[int, str, str]:
    """(committer time, author email, messages of base..head) of the change."""
    commits = linear_commits(objects, base, head) if objects is not None else None
    if commits:
        messages = "".join(commit.message + "\n" for commit in commits)  # as `git log --format=%B`
        return commits[0].time, commits[0].author_email, messages.strip()
    # the email may hold any byte, the separator too: only the time comes before it
    log = gitcmd.git(repo, "log", "-1", f"--format=%ct{_SEP}%ae", head).decode("utf-8", "replace")
    time, author = log.split(_SEP, 1)
    messages = gitcmd.git(repo, "log", "--format=%B", f"{base}..{head}", "--").decode(
        "utf-8", "replace"
    )
    return int(time), author.strip(), messages.strip()
