"""Tests for ripening: the newest changes stay unlabelled for as long as the repository's own
bugs take to be found."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gate.features.history import DAY
from tests.gitrepo import GitRepo
from training.label import RECENT_DAYS, RIPEN_MAX_DAYS, label_table, ripening

T0 = 1_600_000_000
FILES = 24
CODE = "def value():\n    return 0\n"


def history(path: Path, delay_days: int) -> tuple[GitRepo, dict[int, str], list[str]]:
    """A bug a day in its own file, each fixed `delay_days` later; then, over the last
    `delay_days`, a change every few days whose bugs (if any) nobody has found yet."""
    repo = GitRepo(path)
    repo.commit("add", {f"m{k}.py": CODE for k in range(FILES)}, when=T0)
    events = [(T0 + (k + 1) * DAY, k, "bad") for k in range(FILES)]
    events += [(T0 + (k + 1 + delay_days) * DAY, k, "fix") for k in range(FILES)]
    bad = {}
    for when, k, kind in sorted(events):
        if kind == "bad":
            bad[k] = repo.commit(f"tune m{k}", {f"m{k}.py": CODE.replace("0", "1")}, when=when)
        else:
            repo.commit(f"fix m{k}", {f"m{k}.py": CODE}, when=when)
    last = sorted(events)[-1][0]
    late = [
        repo.commit(f"new work {n}", {f"late{n}.py": CODE}, when=last + n * 10 * DAY)
        for n in range(1, delay_days // 10 + 1)
    ]
    return repo, bad, late


def labelled(repo: GitRepo, **options: object) -> pd.DataFrame:
    rows = [
        {"sha": sha, "time": int(time), "la": 1.0}
        for sha, time in (line.split() for line in repo.git("log", "--format=%H %ct").splitlines())
    ]
    frame = pd.DataFrame(rows[::-1])
    return label_table(repo.path, frame, show_progress=False, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("delay", [40, 120])
def test_the_ripening_period_follows_the_fix_delays(tmp_path: Path, delay: int) -> None:
    repo, bad, late = history(tmp_path / "repo", delay)

    table = labelled(repo)

    assert table.attrs["ripening"] == {"days": delay, "learnt_from_pairs": FILES, "quantile": 0.75}
    assert (table["ripening_days"] == delay).all()
    newest = int(table["time"].max())
    assert (table["labelled_until"] == newest - delay * DAY).all()
    by_sha = table.set_index("sha")
    assert by_sha.loc[list(bad.values()), "bug"].eq(1).all()
    # the newest changes wait: "no fix found yet" is no label at all
    assert by_sha.loc[late, "bug"].isna().all()
    assert by_sha["bug"].notna().sum() == len(table) - len(late)


def test_a_given_period_wins_over_the_learnt_one(tmp_path: Path) -> None:
    repo, _bad, late = history(tmp_path / "repo", 40)

    table = labelled(repo, recent_days=0)

    assert table.attrs["ripening"] == {"days": 0, "learnt_from_pairs": 0, "quantile": None}
    assert table.set_index("sha").loc[late, "bug"].eq(0).all()


def test_ripening_needs_enough_delays_and_stays_within_bounds() -> None:
    assert ripening([5.0] * 19).days == RECENT_DAYS
    assert ripening([5.0] * 20).days == 30  # the lower bound
    assert ripening([2000.0] * 20).days == RIPEN_MAX_DAYS
    assert ripening([float(d) for d in range(1, 101)]).days == pytest.approx(75.2, abs=0.1)
