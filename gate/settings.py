"""The service's settings, read from GATE_* environment variables (or a .env file)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_ROOT = Path(__file__).resolve().parent
DEFAULT_MODEL_PATH = PACKAGE_ROOT.parent / "data" / "models" / "default"


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATE_", env_file=".env", extra="ignore")

    app_id: int | None = None
    private_key: SecretStr | None = None
    private_key_path: Path | None = None
    webhook_secret: SecretStr | None = None
    database_url: str = "sqlite:///riskgate.db"
    github_api_url: AnyHttpUrl = AnyHttpUrl("https://api.github.com")
    # Placeholders: {owner} {repo} {full_name} {token} {clone_url}. Unset: the payload's
    # clone URL with the installation token as the password.
    git_url_template: str | None = None
    model_path: Path = DEFAULT_MODEL_PATH
    # per-repository models: <model_dir>/<owner>/<repo>/<version>/, registered in the database
    model_dir: Path = Path("var/models")
    # a repository's own model scores its changes only when it learnt from at least this much
    repo_model_min_rows: int = Field(default=300, ge=1)
    repo_model_min_failures: int = Field(default=30, ge=1)
    # a new model is promoted only when the recent window holds this many failures (and as many
    # clean changes) and its AUC there beats the current model's by this much
    promotion_min_window_failures: int = Field(default=10, ge=1)
    promotion_min_auc_gain: float = Field(default=0.01, ge=0.0, le=1.0)
    mirror_dir: Path = Path("var/mirrors")
    public_url: AnyHttpUrl = AnyHttpUrl("http://localhost:8000")

    # GitHub Actions OIDC: tokens are verified against this issuer's keys (JWKS) and audience
    oidc_issuer: str = "https://token.actions.githubusercontent.com"
    oidc_audience: str = "riskgate"
    oidc_jwks_url: str | None = None  # default: <issuer>/.well-known/jwks
    oidc_jwks_path: Path | None = None  # a JWKS file instead (air-gapped installs, tests)

    worker_enabled: bool = True
    worker_threads: int = Field(default=2, ge=1, le=64)
    # attempts for errors of riskgate's own (a bug, a broken repository); GitHub being down or
    # rate limiting is retried for the time budget instead, spending no attempt on a rate limit
    job_max_attempts: int = Field(default=5, ge=1, le=50)
    job_retry_budget_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    job_backoff_cap_seconds: float = Field(default=600.0, ge=1)
    # asking GitHub to redeliver failed webhook deliveries; 0 turns recovery off
    recovery_interval_minutes: float = Field(default=15.0, ge=0)
    # the open-PR reconciler (a request per repository and round): at start, then this often
    reconcile_interval_minutes: float = Field(default=60.0, ge=0)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    log_json: bool = True
    log_level: str = "INFO"

    # the console's sign-in: the App's OAuth client (app.yml's manifest yields both), the
    # web host GitHub's OAuth pages live on (GitHub Enterprise, tests), and the cookie key
    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_web_url: AnyHttpUrl = AnyHttpUrl("https://github.com")
    session_secret: SecretStr | None = None
    # how long what GitHub said a person may read is believed, and how long a sign-in lasts
    console_access_ttl_seconds: float = Field(default=300.0, ge=0)
    console_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)

    @field_validator("git_url_template")
    @classmethod
    def _template_names_the_repository(cls, value: str | None) -> str | None:
        if value is not None and not any(
            key in value for key in ("{full_name}", "{repo}", "{clone_url}")
        ):
            raise ValueError("must contain {full_name}, {repo} or {clone_url}")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @model_validator(mode="after")
    def _one_private_key(self) -> Settings:
        if self.private_key is not None and self.private_key_path is not None:
            raise ValueError("set GATE_PRIVATE_KEY or GATE_PRIVATE_KEY_PATH, not both")
        return self

    @cached_property
    def private_key_pem(self) -> str | None:
        if self.private_key is not None:
            return self.private_key.get_secret_value().replace("\\n", "\n")
        if self.private_key_path is not None:
            return self.private_key_path.read_text()
        return None

    def require_github_app(self) -> None:
        """Fail with a message naming each setting the GitHub App cannot run without."""
        problems = []
        if self.app_id is None:
            problems.append("GATE_APP_ID is missing")
        if self.webhook_secret is None or not self.webhook_secret.get_secret_value():
            problems.append("GATE_WEBHOOK_SECRET is missing")
        if self.private_key is None and self.private_key_path is None:
            problems.append("GATE_PRIVATE_KEY or GATE_PRIVATE_KEY_PATH is missing")
        elif self.private_key_path is not None and not self.private_key_path.is_file():
            problems.append(f"GATE_PRIVATE_KEY_PATH: no file at {self.private_key_path}")
        else:
            problem = _private_key_problem(self.private_key_pem or "")
            if problem:
                name = "GATE_PRIVATE_KEY" if self.private_key else "GATE_PRIVATE_KEY_PATH"
                problems.append(f"{name}: {problem}")
        if problems:
            raise SettingsError("; ".join(problems))


def _private_key_problem(pem: str) -> str | None:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as error:
        return f"not a PEM private key ({error.__class__.__name__})"
    if not isinstance(key, RSAPrivateKey):
        return "GitHub App keys are RSA keys"
    return None


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment; an invalid value raises SettingsError naming it."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            field = ".".join(str(part) for part in detail["loc"]) or "settings"
            name = f"GATE_{field.upper()}" if detail["loc"] else "settings"
            problems.append(f"{name}: {detail['msg']}")
        raise SettingsError("; ".join(problems)) from None
