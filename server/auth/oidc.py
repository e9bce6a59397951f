"""Optional single sign-on: bearer JWTs from an OIDC identity provider (Entra ID, Keycloak)."""

import logging
from typing import Any

import jwt
from jwt import PyJWKClient

from server.auth.accounts import Role
from server.auth.settings import AuthSettings
from tsukuba_gis.errors import GisError

LOG = logging.getLogger(__name__)
# Asymmetric only: with a shared-secret algorithm allowed, a public key could be used as the
# HMAC secret ("algorithm confusion").
ALGORITHMS = ["RS256", "ES256"]


class TokenRejected(GisError):
    """The JWT is not valid for this server (signature, issuer, audience, time)."""


class KeysUnavailable(TokenRejected):
    """The identity provider's JWKS cannot be fetched: nothing can be checked now."""


class NoStaffRole(GisError):
    """The JWT is valid but grants neither the staff nor the admin role."""


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (Keycloak puts roles at ``realm_access.roles``)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def verified_claims(
    token: str, jwks: PyJWKClient, issuer: str, audience: str, leeway: float, require: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The claims of a JWT signed by a key of ``jwks`` for this issuer and audience; TokenRejected
    (naming the failed check, never the token) otherwise."""
    try:
        # Refuse other algorithms before the JWKS is fetched: a forged token costs no request.
        if jwt.get_unverified_header(token).get("alg") not in ALGORITHMS:
            raise TokenRejected("algorithm not allowed")
        key = jwks.get_signing_key_from_jwt(token)
        return jwt.decode(
            token,
            key.key,
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
            options={"require": ["exp", "iss", "aud", *require]},
        )
    except jwt.PyJWKClientConnectionError as err:
        LOG.warning("cannot fetch the identity provider's keys: %s", err)
        raise KeysUnavailable("the identity provider's keys cannot be fetched") from None
    except jwt.PyJWTError as err:
        raise TokenRejected(str(err)) from None


def claimed_departments(claims: dict[str, Any], settings: AuthSettings) -> tuple[str, ...]:
    """The departments claim (``TSUKUBA_GIS_AUTH_OIDC_DEPARTMENT_CLAIM``): a list of ids or one
    id; none when absent."""
    claimed = _claim(claims, settings.oidc_department_claim)
    claimed = [claimed] if isinstance(claimed, str) else claimed
    if not isinstance(claimed, list):
        return ()
    return tuple(sorted({d.strip().lower() for d in claimed if isinstance(d, str) and d.strip()}))


def staff_identity(claims: dict[str, Any], settings: AuthSettings) -> tuple[str, Role]:
    """(user name, role) from verified claims; TokenRejected without a name, NoStaffRole
    without a staff or admin role."""
    username = _claim(claims, settings.oidc_username_claim) or claims.get("sub")
    claimed = _claim(claims, settings.oidc_role_claim)
    claimed = [claimed] if isinstance(claimed, str) else claimed
    roles = {r for r in claimed if isinstance(r, str)} if isinstance(claimed, list) else set()
    if not isinstance(username, str) or not username:
        raise TokenRejected("the token names no user")
    if roles & set(settings.oidc_admin_roles):
        return username, "admin"
    if roles & set(settings.oidc_staff_roles):
        return username, "staff"
    raise NoStaffRole(username)


class OIDCVerifier:
    """Checks bearer JWTs against the issuer's JWKS (fetched lazily, cached, refreshed on a new
    key id).

    Attributes:
        settings: issuer, audience, JWKS URL and role mapping.
    """

    def __init__(self, settings: AuthSettings):
        self.settings = settings
        self.jwks = PyJWKClient(
            settings.oidc_jwks_url, cache_jwk_set=True, lifespan=max(settings.oidc_jwks_cache_s, 1), timeout=5
        )

    def departments(self, token: str) -> tuple[str, ...]:
        """The departments of a token that ``verify`` accepted."""
        claims = jwt.decode(token, options={"verify_signature": False})  # verified just before
        return claimed_departments(claims, self.settings)

    def verify(self, token: str) -> tuple[str, Role]:
        """(user name, role) from a valid token; TokenRejected or NoStaffRole otherwise."""
        s = self.settings
        assert s.oidc_issuer and s.oidc_audience
        claims = verified_claims(token, self.jwks, s.oidc_issuer, s.oidc_audience, s.oidc_leeway_s)
        return staff_identity(claims, s)
