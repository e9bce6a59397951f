"""Staff authentication settings, read from the environment (prefix ``TSUKUBA_GIS_AUTH_``)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AuthSettings(BaseSettings):
    """How staff sign in, how long sessions last, and where accounts and the audit log live.

    Attributes:
        accounts: ``None`` for ``accounts.sqlite`` in the data directory, a ``.sqlite`` path,
            or (later) a ``postgresql://`` DSN shared by several machines.
        audit_log: ``None`` for ``audit.log`` in the data directory.
        audit_max_bytes: rotate the audit log at this size; 0 leaves rotation to logrotate.
        argon2_*: ``None`` keeps argon2-cffi's defaults (RFC 9106 low-memory profile); tests
            set cheap values because every hash costs ~100 ms and 64 MiB with the defaults.
        session_*: a session ends after ``session_hours`` or ``session_idle_minutes`` unused.
        cookie_secure: ``None`` sets ``Secure`` when the request came over HTTPS (also behind
            a proxy that sends ``X-Forwarded-Proto``); ``True`` always sets it.
        trusted_origins: other origins allowed to send state-changing requests (the server's
            own origin and ``TSUKUBA_GIS_PUBLIC_URL`` always are).
        lock_*: failed password checks for a user name from one client address
            (``lock_user_failures``; the name stays open from other addresses, so a stranger
            cannot lock a staff member out) and from one address over all names
            (``lock_ip_failures``) inside ``lock_window_s`` lock further attempts for
            ``lock_base_s`` seconds, doubling with every further failure up to ``lock_max_s``.
        oidc_*: optional single sign-on. Bearer JWTs from ``oidc_issuer``, checked with its
            JWKS (``oidc_audience``, ``oidc_jwks_url``); and, with ``oidc_client_id``, the
            viewer's login through the provider (authorization code flow with PKCE, its
            endpoints read from the issuer's discovery document at run time).
            ``oidc_redirect_url`` is the callback to register at the provider: ``None`` for
            ``<TSUKUBA_GIS_PUBLIC_URL>/auth/oidc/callback``. ``oidc_login_ttl_s``: how long a
            started sign-in may take at the provider; ``oidc_http_timeout_s``: the wait for the
            provider's discovery, keys and token endpoint.
    """

    model_config = SettingsConfigDict(env_prefix="TSUKUBA_GIS_AUTH_", env_file=".env", extra="ignore")

    accounts: str | None = None
    audit_log: Path | None = None
    audit_max_bytes: int = Field(default=10_000_000, ge=0)
    audit_backups: int = Field(default=20, ge=1)

    argon2_time_cost: int | None = Field(default=None, ge=1)
    argon2_memory_cost: int | None = Field(default=None, ge=8)
    argon2_parallelism: int | None = Field(default=None, ge=1)
    password_min_length: int = Field(default=12, ge=8)

    session_hours: float = Field(default=10, gt=0)
    session_idle_minutes: float = Field(default=60, gt=0)
    cookie_secure: bool | None = None
    cookie_samesite: Literal["strict", "lax"] = "strict"
    trusted_origins: list[str] = []

    lock_user_failures: int = Field(default=5, ge=1)
    lock_ip_failures: int = Field(default=50, ge=1)
    lock_window_s: float = Field(default=900, gt=0)
    lock_base_s: float = Field(default=30, gt=0)
    lock_max_s: float = Field(default=900, gt=0)

    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = None
    oidc_username_claim: str = "preferred_username"
    oidc_role_claim: str = "roles"  # a dotted path: Keycloak has realm_access.roles
    oidc_department_claim: str = "departments"  # ids of layers/ folders whose layers they edit
    oidc_staff_roles: list[str] = ["staff"]
    oidc_admin_roles: list[str] = ["admin"]
    oidc_leeway_s: float = Field(default=30, ge=0, le=300)
    oidc_jwks_cache_s: int = Field(default=300, ge=0)
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # None: a public client (PKCE only)
    oidc_scopes: list[str] = ["openid", "profile", "email"]
    oidc_redirect_url: str | None = None
    oidc_login_ttl_s: float = Field(default=600, gt=0, le=3600)
    oidc_http_timeout_s: float = Field(default=10, gt=0, le=60)

    @model_validator(mode="after")
    def _oidc_complete(self) -> "AuthSettings":
        given = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url]
        if (self.oidc_audience or self.oidc_jwks_url) and not all(given):
            raise ValueError(
                "SSO bearer tokens need all of TSUKUBA_GIS_AUTH_OIDC_ISSUER, _AUDIENCE and _JWKS_URL"
            )
        if self.oidc_client_id and not self.oidc_issuer:
            raise ValueError(
                "the SSO login (TSUKUBA_GIS_AUTH_OIDC_CLIENT_ID) needs TSUKUBA_GIS_AUTH_OIDC_ISSUER"
            )
        if "openid" not in self.oidc_scopes:
            raise ValueError("TSUKUBA_GIS_AUTH_OIDC_SCOPES must include openid")
        return self

    @property
    def oidc_enabled(self) -> bool:
        """Whether bearer JWTs from an identity provider are accepted."""
        return self.oidc_issuer is not None and self.oidc_jwks_url is not None

    @property
    def sso_login_enabled(self) -> bool:
        """Whether the viewer's staff can sign in at the identity provider."""
        return self.oidc_issuer is not None and self.oidc_client_id is not None

    def oidc_callback(self, public_url: str) -> str:
        """The redirect URL to register at the identity provider."""
        return self.oidc_redirect_url or f"{public_url.rstrip('/')}/auth/oidc/callback"

    def accounts_url(self, data_dir: Path, store_url: str = "") -> str:
        """Where accounts, tokens and sessions are kept: the setting, else the PostGIS store's
        database (hosts behind a load balancer share them), else ``accounts.sqlite``."""
        if self.accounts:
            return self.accounts
        if store_url.startswith(("postgresql://", "postgres://")):
            return store_url
        return str(data_dir / "accounts.sqlite")

    def audit_path(self, data_dir: Path) -> Path:
        """The audit log file."""
        return self.audit_log or data_dir / "audit.log"
