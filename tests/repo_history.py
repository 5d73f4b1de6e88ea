"""A repository whose history has a known failure pattern: daily changes, the failing ones
reverted the next day, so `gate label` finds them by their reverts."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from tests.gitrepo import GitRepo, lines

AUTHORS = [
    "Ada Lovelace <ada@example.com>",
    "Grace Hopper <grace@example.com>",
    "Alan Turing <alan@example.com>",
    "Edsger Dijkstra <edsger@example.com>",
]
SOURCES = [f"src/module{k}.py" for k in range(8)]
CONFIGS = [f"config/service{k}.yaml" for k in range(6)]

# (change number, "config" or "source") -> does the change fail (and get reverted)?
FailureRule = Callable[[int, str], bool]


def config_changes_fail(_number: int, kind: str) -> bool:
    return kind == "config"


def build_history(
    path: Path,
    changes: int,
    fails: FailureRule,
    seed: int = 0,
    reverted_share: float = 0.6,
    fixed_share: float = 0.25,
) -> GitRepo:
    """Small edits to YAML config and larger edits to Python source, hourly. A failing change is
    found an hour later: reverted (`This reverts commit <sha>.`) with `reverted_share`
    probability, or fixed by a commit that corrects the first line it added (which SZZ blames on
    it) with `fixed_share`; the rest are never found.

    Size alone says the opposite of the truth when config changes are the ones that fail: a
    model that only knows size (the bundled one) ranks them last.
    """
    rng = random.Random(seed)
    repo = GitRepo(path)
    contents = {name: lines(30, f"{name} base") for name in SOURCES}
    contents |= {name: "".join(f"key{k}: {k}\n" for k in range(10)) for name in CONFIGS}
    repo.commit("initial", dict(contents))
    for number in range(changes):
        kind = "config" if rng.random() < 0.4 else "source"
        if kind == "config":
            name = rng.choice(CONFIGS)
            added = "".join(f"setting{number}_{k}: {rng.randrange(99)}\n" for k in range(3))
            files = {name: contents[name] + added}
        else:
            files = {
                name: contents[name] + lines(rng.randint(20, 120), f"change {number}")
                for name in rng.sample(SOURCES, rng.randint(1, 3))
            }
        before = {name: contents[name] for name in files}
        sha = repo.commit(f"change {number}", dict(files), author=rng.choice(AUTHORS))
        contents |= files
        found = rng.random()
        if not fails(number, kind) or found >= reverted_share + fixed_share:
            continue
        if found < reverted_share:
            message = f'Revert "change {number}"\n\nThis reverts commit {sha}.'
            repair = before
        else:
            message = f"Fix the first line of change {number}"
            repair = {name: _correct_first_added_line(before[name], files[name]) for name in files}
        repo.commit(message, dict(repair), author=rng.choice(AUTHORS))
        contents |= repair
    return repo


def _correct_first_added_line(before: str, after: str) -> str:
    first, _, rest = after[len(before) :].partition("\n")
    return f"{before}{first} corrected\n{rest}"
