"""What kind of file a path is: source, test, config, build manifest, migration, infra, docs..."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Literal, get_args

Kind = Literal[
    "source",
    "test",
    "config",
    "build",
    "migration",
    "infra",
    "docs",
    "generated",
    "binary",
    "other",
]
KINDS: tuple[Kind, ...] = get_args(Kind)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SOURCE_SUFFIXES = _words("""
    .py .pyi .js .jsx .ts .tsx .mjs .cjs .go .rs .java .kt .kts .scala .c .h .cc .cpp .cxx .hpp
    .hh .cs .fs .rb .php .swift .m .mm .lua .pl .pm .r .jl .ex .exs .erl .hrl .hs .ml .mli .clj
    .dart .vue .svelte .sql .sh .bash .zsh .ps1 .groovy .elm .nim .zig .d .f90 .cob .ada .adb
    """)
DOC_SUFFIXES = _words(".md .rst .txt .adoc .asciidoc .org .tex .man")
CONFIG_SUFFIXES = _words(".yml .yaml .json .toml .ini .cfg .conf .properties .env .xml")
BINARY_SUFFIXES = _words("""
    .png .jpg .jpeg .gif .ico .bmp .webp .pdf .zip .gz .tgz .bz2 .xz .7z .jar .war .class .so
    .dll .dylib .exe .bin .woff .woff2 .ttf .otf .eot .mp3 .mp4 .mov .wav .ogg .sqlite .db
    .pyc .parquet .onnx .pt .pkl
    """)
BUILD_NAMES = _words("""
    pyproject.toml setup.py setup.cfg requirements.txt pipfile pipfile.lock poetry.lock uv.lock
    package.json package-lock.json yarn.lock pnpm-lock.yaml go.mod go.sum cargo.toml cargo.lock
    pom.xml build.gradle build.gradle.kts settings.gradle gradle.properties makefile
    cmakelists.txt gemfile gemfile.lock composer.json composer.lock mix.exs mix.lock build.sbt
    bazel build workspace meson.build configure.ac
    """)
GENERATED_NAMES = re.compile(
    r"(_pb2\.pyi?|\.pb\.go|\.pb\.(cc|h)|_generated\.\w+|\.generated\.\w+|\.min\.(js|css)|\.map)$"
)
GENERATED_DIRS = frozenset({"vendor", "node_modules", "dist", "third_party", "generated", "gen"})
INFRA_SUFFIXES = frozenset({".tf", ".tfvars", ".hcl", ".nomad"})
INFRA_DIRS = frozenset(
    {"k8s", "kubernetes", "helm", "charts", "terraform", "deploy", "deployment", "infra", "ansible"}
)
MIGRATION_DIRS = frozenset(
    {"migrations", "migrate", "alembic", "db/migrate", "flyway", "liquibase"}
)
TEST_NAME = re.compile(r"(^test_.*|.*_test\.\w+|.*\.test\.\w+|.*\.spec\.\w+|.*Tests?\.\w+)$")
TEST_DIRS = frozenset({"test", "tests", "spec", "specs", "__tests__", "testing", "testdata"})


def file_kind(path: str, binary: bool = False) -> Kind:
    """The kind of a changed file, from its path (and whether git saw it as binary)."""
    posix = PurePosixPath(path)
    name = posix.name.lower()
    suffix = posix.suffix.lower()
    parts = [part.lower() for part in posix.parts[:-1]]
    joined = "/".join(parts)
    if binary or suffix in BINARY_SUFFIXES:
        return "binary"
    if GENERATED_NAMES.search(name) or GENERATED_DIRS.intersection(parts):
        return "generated"
    if any(d in MIGRATION_DIRS for d in parts) or any(d in joined for d in ("db/migrate",)):
        return "migration"
    if _is_infra(name, suffix, parts, joined):
        return "infra"
    if name in BUILD_NAMES or (name.startswith("requirements") and suffix in (".txt", ".in")):
        return "build"
    if TEST_DIRS.intersection(parts) or TEST_NAME.match(posix.name):
        return "test"
    if suffix in SOURCE_SUFFIXES:
        return "source"
    if suffix in DOC_SUFFIXES or name in ("readme", "changelog", "license", "notice", "authors"):
        return "docs"
    if "docs" in parts or "doc" in parts:
        return "docs"
    if suffix in CONFIG_SUFFIXES or name.startswith(".") or name in ("codeowners",):
        return "config"
    return "other"


def _is_infra(name: str, suffix: str, parts: list[str], joined: str) -> bool:
    return (
        name == "dockerfile"
        or name.startswith("dockerfile.")
        or name.endswith(".dockerfile")
        or name in ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
        or suffix in INFRA_SUFFIXES
        or joined.startswith(".github/workflows")
        or name in (".gitlab-ci.yml", "jenkinsfile", "azure-pipelines.yml")
        or bool(INFRA_DIRS.intersection(parts))
    )
