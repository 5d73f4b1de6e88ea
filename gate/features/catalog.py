"""Every feature riskgate computes: definition, source, unit, missing value (docs/features.md)."""

from __future__ import annotations

from dataclasses import dataclass

from gate.features.relative import RECENT_COMMITS

# Bump when a definition changes: models trained on another schema are refused at load.
FEATURE_SCHEMA_VERSION = "2"


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    group: str
    definition: str
    source: str
    unit: str
    missing: str = "never missing"


def _specs() -> list[FeatureSpec]:
    diff = "git diff (unidiff; first parent for merges; renames detected)"
    history = "history index (git log of the default branch, commits before the change's time)"
    specs = [
        FeatureSpec("la", "diff", "lines added", diff, "lines"),
        FeatureSpec("ld", "diff", "lines deleted", diff, "lines"),
        FeatureSpec("nf", "diff", "files changed (a rename counts once)", diff, "files"),
        FeatureSpec("nd", "diff", "distinct parent directories of the changed files", diff, "dirs"),
        FeatureSpec(
            "ns",
            "diff",
            "distinct top-level directories (subsystems); root files count as `root`",
            diff,
            "subsystems",
        ),
        FeatureSpec(
            "entropy",
            "diff",
            "Shannon entropy of the churn (added + deleted) over files, -sum p log2 p, "
            "not normalised (as the ISSTA'21 data)",
            diff,
            "bits",
        ),
        FeatureSpec(
            "hunks",
            "diff",
            "hunks with 3 lines of context (as GitHub shows them)",
            diff,
            "hunks",
            "missing when the diff is over 32 MiB or unparsable (counted with --numstat instead)",
        ),
        FeatureSpec(
            "largest_file_churn",
            "diff",
            "added + deleted lines of the most changed file",
            diff,
            "lines",
        ),
    ]
    kinds = (
        ("source", "source code"),
        ("test", "tests"),
        ("config", "configuration"),
        ("build", "build and dependency manifests and lock files"),
        ("migration", "database migrations"),
        ("infra", "infrastructure: Dockerfiles, Terraform, Kubernetes/Helm, CI workflows"),
        ("docs", "documentation"),
        ("generated", "generated or vendored files"),
        ("binary", "binary files"),
    )
    specs += [
        FeatureSpec(f"files_{kind}", "diff", f"files changed that are {words}", diff, "files")
        for kind, words in kinds
    ]
    specs += [
        FeatureSpec(
            "test_churn_ratio",
            "diff",
            "test lines changed / source lines changed",
            diff,
            "ratio",
            "missing when no source line changed",
        ),
        FeatureSpec("files_deleted", "diff", "files deleted", diff, "files"),
        FeatureSpec("files_renamed", "diff", "files renamed or moved", diff, "files"),
        FeatureSpec(
            "services_touched",
            "services",
            "services the changed paths map to (risk-gate.yml, else CODEOWNERS, else top-level "
            "directories)",
            ".github/risk-gate.yml, CODEOWNERS",
            "services",
        ),
        FeatureSpec(
            "max_service_tier",
            "services",
            "highest tier touched: critical 2, standard 1, low 0",
            ".github/risk-gate.yml",
            "tier",
        ),
        FeatureSpec(
            "touches_critical",
            "services",
            "1 when a critical service is touched, else 0",
            ".github/risk-gate.yml",
            "flag",
        ),
        FeatureSpec(
            "service_changes_30d",
            "services",
            "commits to the touched services in the 30 days before the change (sum over services)",
            history,
            "commits",
            "missing without a history index",
        ),
        FeatureSpec(
            "service_changes_90d",
            "services",
            "the same over 90 days",
            history,
            "commits",
            "missing without a history index",
        ),
        FeatureSpec(
            "service_reverts_90d",
            "services",
            "revert commits to the touched services in the 90 days before the change",
            history,
            "commits",
            "missing without a history index",
        ),
        FeatureSpec(
            "service_incidents_90d",
            "services",
            "rollbacks and incidents recorded for the touched services in the last 90 days",
            "riskgate's store",
            "events",
            "missing where the store has no outcomes (training)",
        ),
        FeatureSpec(
            "patch_coverage",
            "coverage",
            "covered added executable lines / added executable lines",
            "coverage report for the head commit",
            "ratio",
            "missing without a report, or when no added line is executable",
        ),
        FeatureSpec(
            "uncovered_added_lines",
            "coverage",
            "added executable lines not covered",
            "coverage report for the head commit",
            "lines",
            "missing without a report",
        ),
        FeatureSpec(
            "touched_files_coverage",
            "coverage",
            "mean line coverage of the changed files found in the report",
            "coverage report for the head commit",
            "ratio",
            "missing without a report or when no changed file is in it",
        ),
        FeatureSpec(
            "lt",
            "history",
            "lines in the changed files before the change (at the base)",
            "git (blobs at the base commit)",
            "lines",
        ),
        FeatureSpec(
            "fix",
            "history",
            "1 when the change's message says it fixes a bug, else 0 "
            "(a pull-request merge line alone never does)",
            "commit messages (configurable pattern)",
            "flag",
            "0 for a pull request whose commits say nothing of a fix",
        ),
        FeatureSpec(
            "ndev",
            "history",
            "distinct authors who changed the files before, plus the change's author",
            history,
            "developers",
            "missing without a history index",
        ),
        FeatureSpec(
            "age",
            "history",
            "mean over the changed files that existed of the days since their last change",
            history,
            "days",
            "0 when every file is new; missing without a history index",
        ),
        FeatureSpec(
            "nuc",
            "history",
            "sum over the changed files of their earlier changes, plus one each for this change",
            history,
            "changes",
            "missing without a history index",
        ),
        FeatureSpec(
            "exp",
            "history",
            "the author's earlier file changes (one per file per commit), plus this change's files",
            history,
            "file changes",
            "missing without a history index",
        ),
        FeatureSpec(
            "rexp",
            "history",
            "the author's earlier file changes weighted 1/(1 + days ago), plus this change's files",
            history,
            "weighted file changes",
            "missing without a history index",
        ),
        FeatureSpec(
            "sexp",
            "history",
            "the author's earlier file changes in the subsystems this change touches",
            history,
            "file changes",
            "missing without a history index",
        ),
        FeatureSpec(
            "recent_fixes_90d",
            "history",
            "bug-fix commits that changed these files in the 90 days before the change",
            history,
            "commits",
            "missing without a history index",
        ),
        FeatureSpec(
            "recent_reverts_90d",
            "history",
            "revert commits that changed these files in the 90 days before the change",
            history,
            "commits",
            "missing without a history index",
        ),
        FeatureSpec(
            "author_revert_share",
            "history",
            "share of the author's earlier commits that were reverted before this change",
            history,
            "ratio",
            "missing when the author has no earlier commit",
        ),
        FeatureSpec(
            "min_file_age_days",
            "history",
            "days since the most recently changed of the changed files last changed",
            history,
            "days",
            "missing when every file is new or without a history index",
        ),
        FeatureSpec(
            "nf_recent_rank",
            "relative",
            f"the change's files changed ranked among the repository's last {RECENT_COMMITS} "
            "commits before it: the share that changed fewer files, ties counting half",
            history,
            "share",
            "missing when the repository has no earlier commit or without a history index",
        ),
        FeatureSpec(
            "exp_share",
            "relative",
            "the author's earlier file changes / every earlier file change in the repository",
            history,
            "share",
            "missing when the repository has no earlier file change or without a history index",
        ),
        FeatureSpec(
            "ndev_share",
            "relative",
            "`ndev` / (the repository's distinct earlier authors + 1, the change's author)",
            history,
            "share",
            "missing without a history index",
        ),
        FeatureSpec(
            "added_share",
            "relative",
            "`la` / (`la` + `lt`): the share of the changed files' lines that the change adds",
            "git diff and the blobs at the base",
            "share",
            "missing when `la` and `lt` are both 0",
        ),
        FeatureSpec(
            "deleted_share",
            "relative",
            "`ld` / `lt`: the share of the changed files' earlier lines that the change deletes",
            "git diff and the blobs at the base",
            "share",
            "missing when `lt` is 0",
        ),
        FeatureSpec(
            "author_new_to_service",
            "history",
            "1 when the author never changed one of the touched services before, else 0",
            history,
            "flag",
            "missing without a history index",
        ),
    ]
    return specs


CATALOG: dict[str, FeatureSpec] = {spec.name: spec for spec in _specs()}


def markdown() -> str:
    """docs/features.md: the catalogue as tables, one per group."""
    out = [
        "# Features",
        "",
        f"Feature schema version **{FEATURE_SCHEMA_VERSION}**. Generated from "
        "`gate/features/catalog.py` by `python -m gate.features > docs/features.md`; a test "
        "keeps the two in step.",
        "",
        "The service and training compute every feature with the same code (`gate/features/`): "
        "a live pull request, a deployment's change set and every mined historical commit. "
        "History features use only commits before the change's own commit time.",
        "",
    ]
    for group in dict.fromkeys(spec.group for spec in CATALOG.values()):
        out += [f"## {group}", "", "| name | definition | source | unit | missing value |"]
        out.append("|---|---|---|---|---|")
        for spec in CATALOG.values():
            if spec.group == group:
                out.append(
                    f"| `{spec.name}` | {spec.definition} | {spec.source} | {spec.unit} | "
                    f"{spec.missing} |"
                )
        out.append("")
    return "\n".join([*out, *DATASET_NOTES])


DATASET_NOTES = [
    "## Exact definitions next to the ISSTA'21 dataset",
    "",
    "riskgate's Kamei features follow the conventions of the public ISSTA'21 JIT-DP data (the "
    "benchmark riskgate is compared on) where they are a choice, and say where they cannot. "
    "The Apache-trained candidate model learns from riskgate's own values, mined from real "
    "repositories (data/models/riskgate-apache4/README.md):",
    "",
    "- Time: a change's time is its committer time; history is every indexed commit of the "
    "default branch with an earlier committer time (equal times are not history). Authors are "
    "identified by their e-mail address, lower-cased.",
    "- `ndev`, `nuc`, `exp`, `rexp` count the change itself as the dataset does (the author, one "
    "change per file, one file change per file, weight 1 per file). `sexp` does not.",
    "- `rexp`: each earlier file change by the author weighs 1/(1 + days since it); the dataset "
    "weighs by age in days the same way.",
    "- `age`: riskgate uses the time of each file's last change; the dataset blames lines and "
    "uses the newest surviving line. They differ when the last change only deleted lines.",
    "- `nf`: riskgate counts files; the dataset counts distinct file names, so `a/__init__.py` "
    "and `b/__init__.py` count once there.",
    "- `fix`: a configurable pattern over the messages (bug-fix words, `closes #N`), never matched "
    "on a pull-request merge line (`Merge pull request #N from ...`, `Closes #N from "
    "user/branch`); the dataset used each project's issue-key pattern. Training labels do not use "
    "this feature: they take their fixes from an issue tracker when there is one (README, Labels).",
    "- Renames: a renamed file keeps its history (its earlier changes count for the new path).",
    "- Merges: diff against the first parent; a pull request: its head against the merge base.",
    "",
]
