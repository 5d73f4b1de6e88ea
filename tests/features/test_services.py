"""Services a change touches: config first match, CODEOWNERS and directory fallbacks, features."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from gate.features import FeatureVector
from gate.features.codeowners import CodeOwners
from gate.features.services import (
    Service,
    ServicesConfig,
    describe_service,
    service_features,
    services_reason,
    tier_word,
    touched_services,
)

RISK_GATE_YML = """\
services:
  payments:
    paths: ["services/payments/", "libs/money/**"]
    tier: critical
    owners: ["@acme/payments", alice]
  payments-docs:
    # never reached for services/payments/docs: payments is listed first
    paths: ["services/payments/docs/", "docs/payments/"]
    tier: low
  search:
    paths: ["/services/search/"]
"""

CODEOWNERS = """\
/services/       @acme/backend
/services/search/generated/
/web/            @acme/frontend @acme/design
*.md             @acme/docs
"""


def config(text: str = RISK_GATE_YML) -> ServicesConfig:
    return ServicesConfig.model_validate(yaml.safe_load(text)["services"])


def names(services: list[Service]) -> list[str]:
    return [service.name for service in services]


def test_the_config_is_read_in_order_with_defaults_and_normalised_owners():
    services = config()
    assert list(services.root) == ["payments", "payments-docs", "search"]
    assert services.root["payments"].owners == ["@acme/payments", "@alice"]
    assert services.root["search"].tier == "standard"
    assert services.root["search"].owners == []


def test_each_path_belongs_to_the_first_configured_service_that_matches():
    touched = touched_services(
        ["services/payments/docs/refunds.md", "docs/payments/intro.md", "libs/money/fx/rates.py"],
        config(),
        None,
    )
    assert touched == [
        Service("payments", "critical", ("@acme/payments", "@alice"), "config"),
        Service("payments-docs", "low", (), "config"),
    ]


def test_without_config_paths_group_by_their_codeowners():
    touched = touched_services(
        ["web/app.tsx", "services/api/main.py", "web/style.css", "services/search/x.py"],
        None,
        CodeOwners.parse(CODEOWNERS),
    )
    assert touched == [
        Service(
            "@acme/design, @acme/frontend",
            "standard",
            ("@acme/design", "@acme/frontend"),
            "codeowners",
        ),
        Service("@acme/backend", "standard", ("@acme/backend",), "codeowners"),
    ]


def test_unowned_paths_fall_through_to_their_top_level_directory_or_root():
    touched = touched_services(
        ["services/search/generated/pb2.py", "tools/lint.sh", "Makefile", "tools/fmt.sh"],
        None,
        CodeOwners.parse(CODEOWNERS),
    )
    assert touched == [
        Service("services", "standard", (), "directory"),
        Service("tools", "standard", (), "directory"),
        Service("root", "standard", (), "directory"),
    ]


def test_with_neither_config_nor_codeowners_directories_are_the_services():
    assert names(touched_services(["a/b/c.py", "a/d.py", "setup.py", "b/x"], None, None)) == [
        "a",
        "root",
        "b",
    ]


def test_a_mixed_change_uses_config_then_codeowners_then_directories():
    touched = touched_services(
        [
            "README.md",  # *.md in CODEOWNERS
            "services/payments/charge.py",  # config: payments
            "services/billing/invoice.py",  # CODEOWNERS /services/
            "services/search/generated/pb2.py",  # config: search (config beats CODEOWNERS)
            "ops/runbook.txt",  # nothing: directory
            "services/payments/refund.py",  # payments again: not repeated
        ],
        config(),
        CodeOwners.parse(CODEOWNERS),
    )
    assert [(s.name, s.source) for s in touched] == [
        ("@acme/docs", "codeowners"),
        ("payments", "config"),
        ("@acme/backend", "codeowners"),
        ("search", "config"),
        ("ops", "directory"),
    ]


def test_config_globs_use_codeowners_semantics():
    services = config(
        """\
services:
  top-docs: {paths: ["docs/*"]}
  anywhere-sql: {paths: ["*.sql"]}
"""
    )
    touched = touched_services(["docs/a.md", "docs/deep/b.md", "db/x/1.sql"], services, None)
    assert [(s.name, s.source) for s in touched] == [
        ("top-docs", "config"),
        ("docs", "directory"),  # docs/* does not reach docs/deep/
        ("anywhere-sql", "config"),
    ]


def test_no_paths_touch_no_services():
    assert touched_services([], config(), CodeOwners.parse(CODEOWNERS)) == []


@pytest.mark.parametrize(
    ("services", "field", "message"),
    [
        ({"payments": {"paths": ["a/"], "tier": "high"}}, "payments.tier", "'critical'"),
        ({"payments": {"tier": "low"}}, "payments.paths", "Field required"),
        ({"payments": {"paths": []}}, "payments.paths", "at least 1 item"),
        ({"search": {"paths": ["!src/"]}}, "search.paths", "negation"),
        ({"search": {"paths": ["src/*.[ch]"]}}, "search.paths", "character ranges"),
        ({"search": {"paths": ["src/"], "owners": ["@org/"]}}, "search.owners", "'@org/'"),
        ({"search": {"paths": ["src/"], "owner": ["@a"]}}, "search.owner", "Extra inputs"),
        ({"search": {"paths": "src/"}}, "search.paths", "valid list"),
    ],
)
def test_validation_errors_name_the_service_and_field(services, field: str, message: str):
    with pytest.raises(ValidationError) as caught:
        ServicesConfig.model_validate(services)
    text = str(caught.value)
    assert field in text and message in text


def test_a_list_instead_of_a_mapping_is_rejected():
    with pytest.raises(ValidationError, match="valid dictionary"):
        ServicesConfig.model_validate([{"name": "payments", "paths": ["a/"]}])


def test_a_blank_service_name_is_rejected():
    with pytest.raises(ValidationError, match="service name"):
        ServicesConfig.model_validate({" ": {"paths": ["a/"]}})


def test_features_of_what_was_touched():
    critical = Service("payments", "critical", (), "config")
    low = Service("docs", "low", (), "config")
    standard = Service("api", "standard", (), "directory")
    assert service_features([]) == {
        "services_touched": 0.0,
        "max_service_tier": 0.0,
        "touches_critical": 0.0,
    }
    assert service_features([low]) == {
        "services_touched": 1.0,
        "max_service_tier": 0.0,
        "touches_critical": 0.0,
    }
    assert service_features([low, standard]) == {
        "services_touched": 2.0,
        "max_service_tier": 1.0,
        "touches_critical": 0.0,
    }
    assert service_features([low, critical, standard]) == {
        "services_touched": 3.0,
        "max_service_tier": 2.0,
        "touches_critical": 1.0,
    }
    FeatureVector(service_features([critical]))  # every name is in the feature catalog


def test_words_for_reasons():
    payments = Service("payments", "critical", (), "config")
    docs = Service("docs", "low", (), "config")
    owned = Service("@a, @org/b", "standard", ("@a", "@org/b"), "codeowners")
    assert tier_word("low") == "low risk"
    assert describe_service(payments) == "the payments service (critical)"
    assert describe_service(owned) == "code owned by @a and @org/b"
    assert describe_service(Service("api", "standard", (), "directory")) == "the api/ directory"
    assert describe_service(Service("root", "standard", (), "directory")) == (
        "files at the repository root"
    )
    assert services_reason([payments]) == "touches the payments service (critical)"
    assert services_reason([docs, owned, payments]) == (
        "touches the payments service (critical), code owned by @a and @org/b"
        " and the docs service (low risk)"
    )
    many = [Service(f"s{i}", "standard", (), "config") for i in range(5)]
    assert services_reason(many) == (
        "touches the s0 service (standard), the s1 service (standard),"
        " the s2 service (standard) and 2 more"
    )
    assert services_reason([]) is None
