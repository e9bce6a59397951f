"""The viewer's staff login at the city's identity provider (Entra ID, Keycloak): the OpenID
Connect authorization code flow with PKCE (RFC 7636, S256).

``start`` keeps state, nonce and code verifier in the account store (every worker and host
sees them; a state works once) and sends the browser to the provider; ``finish`` takes them
back, exchanges the code at the token endpoint and checks the ID token with the provider's
JWKS (issuer, audience = client id, nonce, expiry) before anyone is let in. The provider's
endpoints come from its discovery document, fetched at run time from the configured issuer
(in the LGWAN: the city's own provider; nothing outside is ever asked).
"""

import base64
import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from jwt import PyJWKClient

from server.auth import tokens
from server.auth.accounts import AccountStore, Role, SSOLogin
from server.auth.authenticate import AuthFailure
from server.auth.oidc import (
    KeysUnavailable,
    NoStaffRole,
    TokenRejected,
    claimed_departments,
    staff_identity,
    verified_claims,
)
from server.auth.settings import AuthSettings

LOG = logging.getLogger(__name__)
# The provider's own error codes (RFC 6749 4.1.2.1) that mean "try later", not "refused".
PROVIDER_BUSY = frozenset({"server_error", "temporarily_unavailable"})
# Token endpoint errors (RFC 6749 5.2) that say this server's settings are wrong, not the user.
MISCONFIGURED = frozenset({"invalid_client", "unauthorized_client", "unsupported_grant_type"})
ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")  # a code we may repeat; its description we never do
UNAVAILABLE = "the identity provider cannot be reached; try again later or sign in with a password"


def unavailable(why: str) -> AuthFailure:
    """503: the provider is down or answers nonsense (logged; the client gets a clear message)."""
    LOG.warning("single sign-on: %s", why)
    return AuthFailure(503, "ServiceUnavailable", UNAVAILABLE, retry_after=30)


def challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Provider:
    """The endpoints of the discovery document this server uses, and the provider's keys."""

    authorization_endpoint: str
    token_endpoint: str
    jwks: PyJWKClient


@dataclass(frozen=True)
class SignedIn:
    """Who the provider vouched for, mapped with the claim settings."""

    username: str
    role: Role
    departments: tuple[str, ...]


class SingleSignOn:
    """Starts and finishes sign-ins at the identity provider.

    Attributes:
        settings: issuer, client id and secret, scopes, claim mapping.
        store: where started sign-ins wait for their callback.
        redirect_url: the callback registered at the provider.
    """

    def __init__(self, settings: AuthSettings, store: AccountStore, public_url: str):
        assert settings.oidc_issuer and settings.oidc_client_id
        self.settings, self.store = settings, store
        self.issuer, self.client_id = settings.oidc_issuer, settings.oidc_client_id
        self.redirect_url = settings.oidc_callback(public_url)
        self._provider: Provider | None = None
        self._fetched = 0.0
        self._lock = threading.Lock()

    def provider(self) -> Provider:
        """The provider's endpoints and keys, from its discovery document (cached as the keys
        are; fetched again when it changed its mind or was down)."""
        with self._lock:
            fresh = time.monotonic() - self._fetched < max(self.settings.oidc_jwks_cache_s, 1)
            if self._provider is None or not fresh:
                try:
                    self._provider = self._discover()
                except AuthFailure:
                    if self._provider is None:
                        raise
                    # A provider down for a moment keeps the endpoints it had; asked again next time.
                self._fetched = time.monotonic()
            return self._provider

    def _discover(self) -> Provider:
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        doc = self._json(httpx.get, url)
        # OpenID Connect Discovery 4.3: the document must name the issuer it was asked for.
        if doc.get("issuer") != self.issuer:
            raise unavailable(f"{url} names issuer {doc.get('issuer')!r}, not {self.issuer!r}")
        methods = doc.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise unavailable(f"{url}: the provider does not offer PKCE S256")
        endpoints = [doc.get(k) for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")]
        if not all(isinstance(e, str) and e.startswith(("https://", "http://")) for e in endpoints):
            raise unavailable(f"{url} lacks an authorization, token or JWKS endpoint")
        lifespan = max(self.settings.oidc_jwks_cache_s, 1)
        timeout = int(self.settings.oidc_http_timeout_s)
        jwks = PyJWKClient(endpoints[2], cache_jwk_set=True, lifespan=lifespan, timeout=timeout)
        return Provider(endpoints[0], endpoints[1], jwks)

    def _json(self, send: Any, url: str, **kwargs: Any) -> dict[str, Any]:
        """A JSON object from the provider; 503 when it cannot be had."""
        try:
            response = send(url, timeout=self.settings.oidc_http_timeout_s, follow_redirects=False, **kwargs)
        except httpx.HTTPError as err:
            raise unavailable(f"{url}: {type(err).__name__}: {err}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise unavailable(f"{url} answered {response.status_code} without a JSON object")
        if response.status_code != 200 and "error" not in body:
            raise unavailable(f"{url} answered {response.status_code}")
        return body

    def start(self) -> tuple[str, str]:
        """(the provider's authorization URL, the state): a new sign-in, kept until its callback."""
        provider = self.provider()
        state, nonce, verifier = (
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(64),
        )
        expires = time.time() + self.settings.oidc_login_ttl_s
        self.store.add_sso_login(SSOLogin(tokens.digest(state), verifier, nonce, expires))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_url,
                "scope": " ".join(self.settings.oidc_scopes),
                "state": state,
                "nonce": nonce,
                "code_challenge": challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = provider.authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", state

    def finish(self, params: dict[str, str], browser_state: str | None) -> SignedIn:
        """Who signed in, from the callback's query and the state this browser started with;
        AuthFailure (400 bad state, 401 bad code or token, 403 refused, 503 provider down)."""
        state = params.get("state", "")
        if not state or not browser_state or not hmac.compare_digest(state, browser_state):
            raise AuthFailure(400, "InvalidParameterValue", "this sign-in was not started in this browser")
        login = self.store.take_sso_login(tokens.digest(state), time.time())
        if login is None:
            raise AuthFailure(
                400, "InvalidParameterValue", "this sign-in has expired or was used; sign in again"
            )
        error = params.get("error")
        if error is not None:
            code = error if ERROR_CODE.match(error) else "error"
            if code in PROVIDER_BUSY:
                raise unavailable(f"the provider answered {code}")
            raise AuthFailure(403, "Forbidden", f"the identity provider did not sign you in ({code})")
        if not params.get("code"):
            raise AuthFailure(400, "InvalidParameterValue", "the callback carries no code")
        id_token = self._exchange(params["code"], login.verifier)
        return self._identity(id_token, login.nonce)

    def _exchange(self, code: str, verifier: str) -> str:
        """The ID token for a code (the token endpoint checks the code, client and verifier)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_url,
            "code_verifier": verifier,
            "client_id": self.client_id,
        }
        secret = self.settings.oidc_client_secret
        if secret is not None:
            form["client_secret"] = secret.get_secret_value()  # client_secret_post: Entra ID, Keycloak
        provider = self.provider()
        body = self._json(
            httpx.post, provider.token_endpoint, data=form, headers={"Accept": "application/json"}
        )
        if "error" in body:
            error = str(body["error"])
            code_name = error if ERROR_CODE.match(error) else "error"
            if code_name in PROVIDER_BUSY:
                raise unavailable(f"the token endpoint answered {code_name}")
            if code_name in MISCONFIGURED:
                LOG.error(
                    "single sign-on: the provider refuses this client (%s): check the client id and secret",
                    code_name,
                )
                raise AuthFailure(503, "ServiceUnavailable", UNAVAILABLE, retry_after=30)
            LOG.info("single sign-on: the token endpoint refused the code: %s", code_name)
            raise AuthFailure(
                401,
                "InvalidCredentials",
                f"the identity provider refused the code ({code_name}); sign in again",
            )
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise unavailable("the token endpoint answered without an ID token")
        return id_token

    def _identity(self, id_token: str, nonce: str) -> SignedIn:
        s = self.settings
        try:
            jwks = self.provider().jwks
            claims = verified_claims(
                id_token, jwks, self.issuer, self.client_id, s.oidc_leeway_s, ("iat", "sub")
            )
            # OIDC Core 3.1.3.7: the nonce of this sign-in; an azp, when there, is this client.
            if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
                raise TokenRejected("the ID token belongs to another sign-in (nonce)")
            if claims.get("azp", self.client_id) != self.client_id:
                raise TokenRejected("the ID token was issued to another client (azp)")
            username, role = staff_identity(claims, s)
        except KeysUnavailable as err:
            raise unavailable(str(err)) from None
        except TokenRejected as err:
            LOG.info("single sign-on: ID token refused: %s", err)
            raise AuthFailure(
                401, "InvalidCredentials", f"the identity provider's ID token was refused: {err}"
            ) from None
        except NoStaffRole:
            raise AuthFailure(403, "Forbidden", "this account has no staff role here") from None
        return SignedIn(username, role, claimed_departments(claims, s))
