"""Bug fixes from GitHub: bug-labelled issues and the pull requests and commits that closed them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
from githubkit import GitHub, TokenAuthStrategy

from gate.github import Repo, RetryPolicy, call_with_retries
from training.fixes import CLOSING_REFERENCE, TrackerFixes

BUG_LABELS = ("bug", "type: bug", "kind/bug", "type/bug", "defect")
PER_PAGE = 100
TOKEN_MISSING = (
    "fixes from GitHub need a token: give --github-token or set GATE_GITHUB_TOKEN "
    "(read access to the repository's issues and pull requests)"
)


class GitHubBugs:
    """Reads one repository's bug issues through GitHub's REST API, with a token."""

    def __init__(
        self,
        token: str | None,
        repo: Repo,
        *,
        base_url: str = "https://api.github.com",
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not token:
            raise ValueError(TOKEN_MISSING)
        self.repo = repo
        self.retry = retry or RetryPolicy()
        self._github = GitHub(
            TokenAuthStrategy(token),
            base_url=base_url,
            transport=transport,
            auto_retry=False,
            http_cache=False,
            user_agent="riskgate",
            timeout=httpx.Timeout(30.0),
        )

    def fixes(self, labels: Iterable[str] = BUG_LABELS) -> TrackerFixes:
        """Bug issues and pull requests (by label), and the commits that closed or merged them."""
        bugs: dict[int, dict[str, Any]] = {}
        for label in dict.fromkeys(labels):
            for item in self._pages(
                lambda page, label=label: self._github.rest.issues.list_for_repo(
                    self.repo.owner,
                    self.repo.name,
                    state="closed",
                    labels=label,
                    per_page=PER_PAGE,
                    page=page,
                )
            ):
                bugs[int(item["number"])] = item
        commits: set[str] = set()
        pulls: set[int] = set()
        for number, item in sorted(bugs.items()):
            if item.get("pull_request"):
                if item["pull_request"].get("merged_at"):
                    pulls.add(number)  # a bug-labelled pull request: its merge fixed the bug
                continue
            found_commits, found_pulls = self._closers(number)
            commits |= found_commits
            pulls |= found_pulls
        for number in sorted(pulls):
            merged = self._merge_commit(number)
            if merged:
                commits.add(merged)
        return TrackerFixes(
            commits=frozenset(commits),
            bug_numbers=frozenset(n for n, item in bugs.items() if not item.get("pull_request")),
            source=f"GitHub issues of {self.repo.full_name}",
        )

    def _closers(self, number: int) -> tuple[set[str], set[int]]:
        """The commit that closed the issue, and the merged pull requests of this repository
        that close it with a keyword (`Fixes #N`)."""
        commits, pulls = set(), set()
        own = f"/repos/{self.repo.owner}/{self.repo.name}".lower()
        for event in self._pages(
            lambda page: self._github.rest.issues.list_events_for_timeline(
                self.repo.owner, self.repo.name, number, per_page=PER_PAGE, page=page
            )
        ):
            if event.get("event") == "closed" and event.get("commit_id"):
                commits.add(str(event["commit_id"]))
            elif event.get("event") == "cross-referenced":
                source = (event.get("source") or {}).get("issue") or {}
                pull = source.get("pull_request") or {}
                if (
                    pull.get("merged_at")
                    and str(source.get("repository_url", "")).lower().endswith(own)
                    and _closes(number, source)
                ):
                    pulls.add(int(source["number"]))
        return commits, pulls

    def _merge_commit(self, number: int) -> str | None:
        response = call_with_retries(
            lambda: self._github.rest.pulls.get(self.repo.owner, self.repo.name, number),
            self.retry,
        )
        data = response.json()
        return data.get("merge_commit_sha") if data.get("merged", True) else None

    def _pages(self, request: Callable[[int], Any]) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            items = call_with_retries(lambda page=page: request(page), self.retry).json()
            yield from items
            if len(items) < PER_PAGE:
                return
            page += 1


def _closes(number: int, issue: dict[str, Any]) -> bool:
    text = f"{issue.get('title') or ''}\n{issue.get('body') or ''}"
    return any(int(n) == number for n in CLOSING_REFERENCE.findall(text))


def parse_labels(text: str | None) -> tuple[str, ...]:
    """`--bug-labels "bug,type: bug"` -> the names; the defaults when none are given."""
    if not text:
        return BUG_LABELS
    return tuple(name.strip() for name in re.split(r",", text) if name.strip())
