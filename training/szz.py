"""SZZ: blame the lines each bug fix deleted or changed, at the fix's parent, on their commits."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

from gate.features.history import DEFAULT_FIX_PATTERN, MessageRules, without_merge_lines
from gate.git.cmd import GitError, git

MAX_FIX_FILES = 50
MAX_FIX_LINES = 1000

_START, _FIELD, _END = "\x1e", "\x1f", "\x1d"
_LOG_FORMAT = f"{_START}%H{_FIELD}%P{_FIELD}%ct{_FIELD}%B{_END}"
_COMMIT_START = re.compile(f"{_START}(?=[0-9a-f]{{40}}{_FIELD})")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@")
_BLAME_HEADER = re.compile(r"^([0-9a-f]{40}) \d+ (\d+)(?: \d+)?$")


@dataclass(frozen=True)
class Commit:
    sha: str
    parent: str | None  # first parent; None for a root commit
    time: int  # committer time, unix seconds
    message: str


@dataclass(frozen=True)
class FixRules:
    """Which commits fix bugs: message keywords and `Fixes #N` (MessageRules) or an issue key."""

    fix_pattern: str = DEFAULT_FIX_PATTERN
    issue_pattern: str | None = None  # e.g. r"\bPROJ-\d+\b"; none by default (matches UTF-8)

    @cached_property
    def _rules(self) -> MessageRules:
        return MessageRules(self.fix_pattern)

    def is_fix(self, message: str) -> bool:
        rules = self._rules
        if rules.reverted_sha(message):
            return False  # a revert's deletions are the reverted change: the revert rule's job
        if rules.is_fix(message):
            return True
        text = without_merge_lines(message)  # a branch name may carry a key: PROJ-1-cleanup
        return bool(self.issue_pattern and re.search(self.issue_pattern, text))


@dataclass(frozen=True)
class Limits:
    """Fixes above either cap are skipped: tangled, mass edits blame everything nearby."""

    max_files: int = MAX_FIX_FILES
    max_lines: int = MAX_FIX_LINES


@dataclass
class FilePart:
    """The lines of one file, at the fix's parent, that the fix deleted or changed."""

    path: str  # the path at the parent (the old path of a rename)
    lines: dict[int, str] = field(default_factory=dict)  # line number -> text


@dataclass
class FixResult:
    fix: str
    inducing: set[str] = field(default_factory=set)
    skipped: str | None = None  # why no line of this fix was blamed: "huge", "adds-only", ...
    lines_blamed: int = 0


@dataclass
class SzzResult:
    """Inducing commit -> the fixes that blamed it, and what happened to each fix."""

    inducing: dict[str, list[str]]
    fixes: list[FixResult]

    @classmethod
    def of(cls, results: Iterable[FixResult]) -> SzzResult:
        results = list(results)
        inducing: dict[str, list[str]] = {}
        for result in results:
            for sha in sorted(result.inducing):
                inducing.setdefault(sha, []).append(result.fix)
        return cls(inducing, results)

    def counts(self) -> dict[str, int]:
        counts = {"fixes": len(self.fixes), "inducing": len(self.inducing)}
        for result in self.fixes:
            if result.skipped:
                counts[f"skipped_{result.skipped}"] = counts.get(f"skipped_{result.skipped}", 0) + 1
        return counts


def log_commits(repo: Path, revisions: Sequence[str] = ("HEAD",)) -> list[Commit]:
    """Every commit of `git log <revisions>`, newest first, with its message."""
    raw = git(repo, "log", "--no-color", f"--format={_LOG_FORMAT}", *revisions, "--")
    commits = []
    # a message may hold the separators themselves: a commit starts only where a SHA follows
    for chunk in _COMMIT_START.split(raw.decode("utf-8", "replace"))[1:]:
        header = chunk.partition(_END)[0]
        sha, parents, time, message = header.split(_FIELD, 3)
        parent = parents.split()[0] if parents.strip() else None
        commits.append(Commit(sha, parent, int(time), message))
    return commits


def find_fixes(commits: Iterable[Commit], rules: FixRules) -> list[Commit]:
    return [commit for commit in commits if commit.parent and rules.is_fix(commit.message)]


def szz(
    repo: Path,
    fixes: Sequence[Commit],
    *,
    ignore_revs: Path | None = None,
    limits: Limits = Limits(),
    jobs: int = 2,
    progress: Callable[[int], None] = lambda _done: None,
) -> SzzResult:
    """Blame every fix's deleted and changed code lines; runs `jobs` fixes at a time."""
    ignored = _ignored_shas(repo, ignore_revs)
    with ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        results = []
        for done, result in enumerate(
            pool.map(lambda fix: blame_fix(repo, fix, ignore_revs, ignored, limits), fixes),
            start=1,
        ):
            results.append(result)
            progress(done)
    return SzzResult.of(results)


def blame_fix(
    repo: Path,
    fix: Commit,
    ignore_revs: Path | None,
    ignored: frozenset[str],
    limits: Limits,
) -> FixResult:
    result = FixResult(fix.sha)
    assert fix.parent is not None
    try:
        parts, files = changed_lines(repo, fix.parent, fix.sha)
    except GitError:
        result.skipped = "unreadable"
        return result
    if files > limits.max_files or sum(len(part.lines) for part in parts) > limits.max_lines:
        result.skipped = "huge"
        return result
    if not parts:
        result.skipped = "adds-only"  # nothing deleted or changed (whitespace aside)
        return result
    parts = [code_only(repo, fix.parent, part) for part in parts]
    parts = [part for part in parts if part.lines]
    if not parts:
        result.skipped = "comments-only"  # only blank and comment lines deleted or changed
        return result
    for part in parts:
        blamed = blame_lines(repo, fix.parent, part.path, sorted(part.lines), ignore_revs)
        result.lines_blamed += len(blamed)
        result.inducing.update(sha for sha in blamed.values() if sha not in ignored)
    return result


def changed_lines(repo: Path, parent: str, fix: str) -> tuple[list[FilePart], int]:
    """Per file, the parent's lines the fix deleted or changed (whitespace ignored), and the
    number of files the fix touched."""
    raw = git(
        repo,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "-M",
        "-w",
        "--ignore-blank-lines",
        "-U0",
        parent,
        fix,
        "--",
    )
    return _parse_zero_context(raw.decode("utf-8", "surrogateescape"))


def _parse_zero_context(patch: str) -> tuple[list[FilePart], int]:
    parts: list[FilePart] = []
    files = 0
    current: FilePart | None = None
    line_no = 0
    for line in patch.splitlines():
        if line.startswith("diff --git "):
            files += 1
            current = None
        elif line.startswith("--- "):
            old = line[4:].rstrip("\t")  # git ends a path with a space in a tab
            current = None if old == "/dev/null" else FilePart(_unquote(old)[2:])
            if current:
                parts.append(current)
        elif line.startswith("+++ "):
            continue
        elif match := _HUNK.match(line):
            line_no = int(match.group(1))
        elif line.startswith("-") and current is not None:
            current.lines[line_no] = line[1:]
            line_no += 1
    return [part for part in parts if part.lines], files


def _unquote(path: str) -> str:
    """git quotes paths with unusual characters as C strings: "a/x\\ty"."""
    if not (path.startswith('"') and path.endswith('"')):
        return path
    return (
        path[1:-1]
        .encode("latin-1", "backslashreplace")
        .decode("unicode_escape")
        .encode("latin-1")
        .decode("utf-8", "surrogateescape")
    )


def code_only(repo: Path, parent: str, part: FilePart) -> FilePart:
    """Drop blank and comment-only lines, by the file's comment syntax."""
    style = comment_style(part.path)
    if style is None:
        keep = {n: text for n, text in part.lines.items() if text.strip()}
        return FilePart(part.path, keep)
    if style.blocks:
        # a line inside /* ... */ looks like code on its own: scan the whole file
        try:
            text = git(repo, "show", f"{parent}:{part.path}").decode("utf-8", "replace")
        except GitError:
            text = None
        if text is not None:
            is_code = code_lines(text.splitlines(), style)
            keep = {
                n: line for n, line in part.lines.items() if n <= len(is_code) and is_code[n - 1]
            }
            return FilePart(part.path, keep)
    is_code = code_lines(list(part.lines.values()), style)
    return FilePart(
        part.path,
        {n: line for (n, line), code in zip(part.lines.items(), is_code, strict=True) if code},
    )


@dataclass(frozen=True)
class CommentStyle:
    line: tuple[str, ...] = ()
    blocks: tuple[tuple[str, str], ...] = ()


def _words(text: str) -> list[str]:
    return text.split()


_C = CommentStyle(("//",), (("/*", "*/"),))
_HASH = CommentStyle(("#",))
_STYLES: dict[str, CommentStyle] = {
    **dict.fromkeys(
        [
            ".c",
            ".h",
            ".cc",
            ".cpp",
            ".cxx",
            ".hpp",
            ".hh",
            ".hxx",
            ".java",
            ".js",
            ".jsx",
            ".mjs",
            ".cjs",
            ".ts",
            ".tsx",
            ".go",
            ".rs",
            ".kt",
            ".kts",
            ".scala",
            ".swift",
            ".cs",
            ".m",
            ".mm",
            ".dart",
            ".groovy",
            ".gradle",
            ".proto",
            ".sol",
            ".css",
            ".scss",
            ".less",
            ".v",
            ".zig",
        ],
        _C,
    ),
    **dict.fromkeys(
        [
            ".py",
            ".pyi",
            ".rb",
            ".sh",
            ".bash",
            ".zsh",
            ".pl",
            ".pm",
            ".r",
            ".yml",
            ".yaml",
            ".toml",
            ".cmake",
            ".mk",
            ".tf",
            ".tfvars",
            ".ps1",
            ".jl",
            ".ex",
            ".exs",
            ".nix",
            ".bzl",
            ".cfg",
            ".conf",
            ".properties",
            ".dockerfile",
            ".gitignore",
        ],
        _HASH,
    ),
    ".php": CommentStyle(("//", "#"), (("/*", "*/"),)),
    ".sql": CommentStyle(("--",), (("/*", "*/"),)),
    ".lua": CommentStyle(("--",), (("--[[", "]]"),)),
    ".hs": CommentStyle(("--",), (("{-", "-}"),)),
    ".elm": CommentStyle(("--",), (("{-", "-}"),)),
    ".ada": CommentStyle(("--",)),
    ".adb": CommentStyle(("--",)),
    ".ads": CommentStyle(("--",)),
    ".clj": CommentStyle((";",)),
    ".lisp": CommentStyle((";",)),
    ".el": CommentStyle((";",)),
    ".scm": CommentStyle((";",)),
    ".asm": CommentStyle((";",)),
    ".ini": CommentStyle((";", "#")),
    ".erl": CommentStyle(("%",)),
    ".tex": CommentStyle(("%",)),
    ".html": CommentStyle(blocks=(("<!--", "-->"),)),
    ".htm": CommentStyle(blocks=(("<!--", "-->"),)),
    ".xml": CommentStyle(blocks=(("<!--", "-->"),)),
    ".vue": CommentStyle(("//",), (("<!--", "-->"), ("/*", "*/"))),
}
_NAMES: dict[str, CommentStyle] = {
    "makefile": _HASH,
    "dockerfile": _HASH,
    "cmakelists.txt": _HASH,
    "build": _HASH,
    "workspace": _HASH,
    "gemfile": _HASH,
    "rakefile": _HASH,
}


def comment_style(path: str) -> CommentStyle | None:
    """The comment syntax of a file type; None where unknown (then only blank lines go)."""
    name = PurePosixPath(path).name.lower()
    return _NAMES.get(name) or _STYLES.get(PurePosixPath(name).suffix)


def code_lines(lines: Sequence[str], style: CommentStyle) -> list[bool]:
    """Per line: does anything but whitespace and comments remain? Strings are not parsed, so
    a comment marker inside a string literal ends the line's code early (never makes a code
    line look empty unless nothing precedes it)."""
    out = []
    closing: str | None = None
    for line in lines:
        code, closing = _strip_comments(line, style, closing)
        out.append(bool(code.strip()))
    return out


def _strip_comments(line: str, style: CommentStyle, closing: str | None) -> tuple[str, str | None]:
    code = []
    rest = line
    while rest:
        if closing is not None:
            end = rest.find(closing)
            if end < 0:
                return "".join(code), closing
            rest, closing = rest[end + len(closing) :], None
            continue
        starts = [(rest.find(token), token, None) for token in style.line]
        starts += [(rest.find(opening), opening, close) for opening, close in style.blocks]
        found = [start for start in starts if start[0] >= 0]
        if not found:
            code.append(rest)
            break
        # the earliest marker wins; on a tie the longer one ("--[[" before "--")
        position, token, close = min(found, key=lambda start: (start[0], -len(start[1])))
        code.append(rest[:position])
        if close is None:
            break
        rest, closing = rest[position + len(token) :], close
    return "".join(code), closing


def blame_lines(
    repo: Path, parent: str, path: str, lines: Sequence[int], ignore_revs: Path | None
) -> dict[int, str]:
    """Line number at `parent` -> the commit `git blame -w` attributes it to."""
    if not lines:
        return {}
    args = ["blame", "-w", "--porcelain"]
    if ignore_revs is not None:
        args += ["--ignore-revs-file", str(ignore_revs)]
    for start, end in _ranges(lines):
        args += ["-L", f"{start},{end}"]
    try:
        raw = git(repo, *args, parent, "--", path)
    except GitError:
        return {}  # the path is not at the parent (a submodule, a binary oddity): nothing to blame
    wanted = set(lines)
    blamed = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        match = _BLAME_HEADER.match(line)
        if match and int(match.group(2)) in wanted:
            blamed[int(match.group(2))] = match.group(1)
    return blamed


def _ranges(lines: Sequence[int]) -> Iterator[tuple[int, int]]:
    start = previous = lines[0]
    for line in lines[1:]:
        if line != previous + 1:
            yield start, previous
            start = line
        previous = line
    yield start, previous


def _ignored_shas(repo: Path, ignore_revs: Path | None) -> frozenset[str]:
    """The full SHAs an ignore-revs file lists (comments and blank lines allowed)."""
    if ignore_revs is None:
        return frozenset()
    shas = set()
    for line in ignore_revs.read_text().splitlines():
        rev = line.split("#", 1)[0].strip()
        if rev:
            try:
                shas.add(git(repo, "rev-parse", "--verify", f"{rev}^{{commit}}").decode().strip())
            except GitError:
                continue
    return frozenset(shas)
