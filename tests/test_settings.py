"""Settings: a missing or invalid setting fails at start, naming it."""

from __future__ import annotations

import pytest

from gate.settings import Settings, SettingsError, load_settings


def test_defaults_need_nothing_for_local_assessment(monkeypatch):
    for name in ("GATE_APP_ID", "GATE_DATABASE_URL", "GATE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite")
    assert str(settings.github_api_url) == "https://api.github.com/"


def test_github_app_settings_missing_are_all_named():
    with pytest.raises(SettingsError) as raised:
        Settings(_env_file=None).require_github_app()
    message = str(raised.value)
    for name in ("GATE_APP_ID", "GATE_WEBHOOK_SECRET", "GATE_PRIVATE_KEY"):
        assert name in message


def test_invalid_values_are_named(monkeypatch):
    monkeypatch.setenv("GATE_APP_ID", "not-a-number")
    monkeypatch.setenv("GATE_GITHUB_API_URL", "ftp:/nope")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "GATE_APP_ID" in str(raised.value) and "GATE_GITHUB_API_URL" in str(raised.value)


def test_unknown_database_scheme_is_refused(monkeypatch):
    monkeypatch.setenv("GATE_DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError, match="GATE_DATABASE_URL"):
        load_settings()


def test_git_url_template_must_name_the_repository(monkeypatch):
    monkeypatch.setenv("GATE_GIT_URL_TEMPLATE", "https://git.example.com/fixed.git")
    with pytest.raises(SettingsError, match="GATE_GIT_URL_TEMPLATE"):
        load_settings()


def test_private_key_that_is_not_pem_is_named(tmp_path):
    settings = Settings(app_id=1, webhook_secret="s", private_key="hello", _env_file=None)
    with pytest.raises(SettingsError, match="GATE_PRIVATE_KEY: not a PEM private key"):
        settings.require_github_app()
    missing = Settings(
        app_id=1, webhook_secret="s", private_key_path=tmp_path / "k.pem", _env_file=None
    )
    with pytest.raises(SettingsError, match="GATE_PRIVATE_KEY_PATH: no file"):
        missing.require_github_app()


def test_private_key_from_a_file_or_an_escaped_variable(tmp_path, app_key):
    path = tmp_path / "key.pem"
    path.write_text(app_key[0])
    Settings(
        app_id=1, webhook_secret="s", private_key_path=path, _env_file=None
    ).require_github_app()
    escaped = app_key[0].replace("\n", "\\n")  # how keys often arrive through env files
    Settings(app_id=1, webhook_secret="s", private_key=escaped, _env_file=None).require_github_app()


def test_both_key_settings_at_once_is_refused(tmp_path):
    with pytest.raises(SettingsError, match="not both"):
        load_settings(private_key="x", private_key_path=tmp_path / "k")
