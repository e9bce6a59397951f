"""OpenID providers for the SSO tests, both real HTTP servers on 127.0.0.1.

``MockProvider``: oidc-provider-mock (PyPI), an OpenID Connect provider built on Authlib's
server (discovery, JWKS, authorization form, token endpoint that checks codes, clients and
redirect URIs, nonce in the ID token), run in this process on a free port; works offline.
``ScriptedProvider``: discovery, JWKS and a token endpoint that answers with the ID token a
test signs (wrong audience, expired...), which no conforming provider would issue.
"""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import oidc_provider_mock
import werkzeug.serving
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "tsukuba-gis"
CLIENT_SECRET = "test client secret"
# Staff of the provider: preferred_username and roles as Entra ID app roles would carry them.
USERS = {
    "tanaka": {"preferred_username": "tanaka", "roles": ["staff"], "departments": ["disaster"]},
    "kimura": {"preferred_username": "kimura", "roles": ["gis-admin", "staff"]},
    "nakamura": {"preferred_username": "nakamura", "roles": ["guest"]},
    "yamada": {"preferred_username": "yamada", "roles": ["staff"]},
}


class MockProvider:
    """oidc-provider-mock on a free loopback port, in a thread of this process."""

    def __init__(self) -> None:
        # Authlib refuses plain HTTP unless told otherwise: the test provider is on loopback.
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
        users = [oidc_provider_mock.User(sub=sub, claims=claims) for sub, claims in USERS.items()]
        app = oidc_provider_mock.app(require_nonce=True, user_claims=users)
        self.server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A daemon: a test that fails before stop() must not keep pytest from exiting.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class ScriptedProvider:
    """A provider whose token endpoint answers with ``self.id_token()`` (claims and nonce set by
    the test), or with the error ``self.token_error``."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.claims: dict[str, Any] = {}
        self.nonce = ""
        self.token_error = ""  # e.g. invalid_client: the token endpoint refuses
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    self._json(provider.discovery())
                elif self.path == "/jwks":
                    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(provider.key.public_key(), as_dict=True)
                    self._json({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                if provider.token_error:
                    self._json({"error": provider.token_error}, 401)
                else:
                    self._json({"access_token": "a", "token_type": "Bearer", "id_token": provider.id_token()})

            def _json(self, body: dict, status: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        # A daemon: a test that fails before stop() must not keep pytest from exiting.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self.thread.start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "code_challenge_methods_supported": ["S256"],
        }

    def id_token(self) -> str:
        """A valid ID token for tanaka and the nonce of the sign-in, changed by ``self.claims``."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": CLIENT_ID,
            "sub": "tanaka",
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce,
            "preferred_username": "tanaka",
            "roles": ["staff"],
            **self.claims,
        }
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
