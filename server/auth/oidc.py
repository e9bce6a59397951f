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


class NoStaffRole(GisError):
    """The JWT is valid but grants neither the staff nor the admin role."""


def _claim(claims: dict[str, Any], path: str) -> Any:
    """A claim by dotted path (Keycloak puts roles at ``realm_access.roles``)."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class OIDCVerifier:
    """Checks JWTs against the issuer's JWKS (fetched lazily, cached, refreshed on a new key id).

    Attributes:
        settings: issuer, audience, JWKS URL and role mapping.
    """

    def __init__(self, settings: AuthSettings):
        self.settings = settings
        self.jwks = PyJWKClient(
            settings.oidc_jwks_url, cache_jwk_set=True, lifespan=max(settings.oidc_jwks_cache_s, 1), timeout=5
        )

    def departments(self, token: str) -> tuple[str, ...]:
        """The departments claim (``TSUKUBA_GIS_AUTH_OIDC_DEPARTMENT_CLAIM``) of a token that
        ``verify`` accepted: a list of ids or one id; none when absent."""
        claims = jwt.decode(token, options={"verify_signature": False})  # verified just before
        claimed = _claim(claims, self.settings.oidc_department_claim)
        claimed = [claimed] if isinstance(claimed, str) else claimed
        if not isinstance(claimed, list):
            return ()
        return tuple(sorted({d.strip().lower() for d in claimed if isinstance(d, str) and d.strip()}))

    def verify(self, token: str) -> tuple[str, Role]:
        """(user name, role) from a valid token; TokenRejected or NoStaffRole otherwise."""
        s = self.settings
        try:
            # Refuse other algorithms before the JWKS is fetched: a forged token costs no request.
            if jwt.get_unverified_header(token).get("alg") not in ALGORITHMS:
                raise TokenRejected("algorithm not allowed")
            key = self.jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                audience=s.oidc_audience,
                issuer=s.oidc_issuer,
                leeway=s.oidc_leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as err:
            LOG.warning("cannot fetch the identity provider's keys: %s", err)
            raise TokenRejected("the identity provider's keys cannot be fetched") from None
        except jwt.PyJWTError as err:
            # The message names the failed check (e.g. "Signature has expired"), never the token.
            raise TokenRejected(str(err)) from None
        username = _claim(claims, s.oidc_username_claim) or claims.get("sub")
        claimed = _claim(claims, s.oidc_role_claim)
        claimed = [claimed] if isinstance(claimed, str) else claimed
        roles = {r for r in claimed if isinstance(r, str)} if isinstance(claimed, list) else set()
        if not isinstance(username, str) or not username:
            raise TokenRejected("the token names no user")
        if roles & set(s.oidc_admin_roles):
            return username, "admin"
        if roles & set(s.oidc_staff_roles):
            return username, "staff"
        raise NoStaffRole(username)
