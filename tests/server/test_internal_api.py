"""The staff OGC API at /internal/api on a real server: every route behind the wall, open to
staff with Basic, personal tokens and SSO JWTs, reachable by GDAL, and nothing of it public."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from server.auth import tokens
from server.auth.accounts import TokenRecord, open_account_store
from server.ogcapi.openapi_local import SCHEMAS_DIR
from server.ogcapi.routes import STATIC_DIRS
from tsukuba_gis.cli.main import cli

INTERNAL_LAYER = "shelters_staff"
STAFF_FIELDS = {"responsible_section", "extension_number", "key_holder"}
PASSWORD = "kenkyu-gakuen 2025"
ISSUER, AUDIENCE = "https://sso.example.lg.jp/realms/tsukuba", "tsukuba-gis"
# Cheap argon2 for tests only (the defaults cost ~100 ms a hash); the server reads the same
# parameters from these variables, so hashes made by the CLI here verify there.
CHEAP_ARGON2 = {
    "TSUKUBA_GIS_AUTH_ARGON2_TIME_COST": "1",
    "TSUKUBA_GIS_AUTH_ARGON2_MEMORY_COST": "8",
    "TSUKUBA_GIS_AUTH_ARGON2_PARALLELISM": "1",
}


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


class JWKSServer:
    """An identity provider's JWKS on 127.0.0.1, and tokens signed with its (or other) keys."""

    def __init__(self):
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        keys = [
            self._jwk(self.rsa.public_key(), "rsa-1", "RS256"),
            self._jwk(self.ec.public_key(), "ec-1", "ES256"),
        ]
        body = json.dumps({"keys": keys}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/certs"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @staticmethod
    def _jwk(public_key, kid: str, alg: str) -> dict:
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        return {**algorithm.to_jwk(public_key, as_dict=True), "kid": kid, "alg": alg, "use": "sig"}

    def token(self, key=None, kid: str = "rsa-1", alg: str = "RS256", **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "f3a1",
            "preferred_username": "suzuki",
            "roles": ["staff"],
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        return jwt.encode(payload, key if key is not None else self.rsa, algorithm=alg, headers={"kid": kid})


SAKURA = (140.129771, 36.098502)  # 桜中学校, a shelter in both the public and the staff layer


@pytest.fixture(scope="module")
def jwks():
    server = JWKSServer()
    yield server
    server.httpd.shutdown()


@pytest.fixture(scope="module")
def staff(sample_data_dir, live_server, jwks, tmp_path_factory):
    """A server with staff accounts made by the CLI, and the credentials to try on it."""
    home = tmp_path_factory.mktemp("staff")
    env = {
        "TSUKUBA_GIS_DATA_DIR": str(sample_data_dir),
        "TSUKUBA_GIS_AUTH_ACCOUNTS": str(home / "accounts.sqlite"),
        "TSUKUBA_GIS_AUTH_AUDIT_LOG": str(home / "audit.log"),
        **CHEAP_ARGON2,
    }
    run_cli(env, "users", "add", "yamada", "--password-stdin", stdin=PASSWORD + "\n")
    token = run_cli(env, "tokens", "create", "yamada", "--name", "QGIS")
    revoked = run_cli(env, "tokens", "create", "yamada")
    run_cli(env, "tokens", "revoke", tokens.token_id_of(revoked))
    store = open_account_store(str(home / "accounts.sqlite"))
    expired_id, expired = tokens.new_token()
    store.add_token(
        TokenRecord(
            expired_id, "yamada", "old", tokens.digest(expired), time.time() - 86400, expires=time.time() - 1
        )
    )
    server_env = {
        **env,
        "TSUKUBA_GIS_AUTH_OIDC_ISSUER": ISSUER,
        "TSUKUBA_GIS_AUTH_OIDC_AUDIENCE": AUDIENCE,
        "TSUKUBA_GIS_AUTH_OIDC_JWKS_URL": jwks.url,
        # this module tries thousands of wrong passwords on purpose: no lock-out here
        "TSUKUBA_GIS_AUTH_LOCK_USER_FAILURES": "1000000",
        "TSUKUBA_GIS_AUTH_LOCK_IP_FAILURES": "1000000",
    }
    server = type(live_server)(sample_data_dir, server_env)  # tests/conftest.py's LiveServer
    yield {
        "server": server,
        "url": server.url,
        "token": token,
        "revoked": revoked,
        "expired": expired,
        "home": home,
    }
    server.stop()


@pytest.fixture(scope="module")
def client(staff):
    with httpx.Client(base_url=staff["url"], timeout=30) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(username: str, password: str) -> dict[str, str]:
    return {"Authorization": httpx.BasicAuth(username, password)._auth_header}


def wrong_credentials(staff, jwks) -> dict[str, dict[str, str]]:
    good = staff["token"]
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    hs256 = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "exp": int(time.time()) + 300, "roles": ["staff"]},
        "a-guessed-shared-secret-of-32-bytes!",
        algorithm="HS256",
        headers={"kid": "rsa-1"},
    )
    return {
        "none": {},
        "wrong password": basic("yamada", "not the password"),
        "unknown user": basic("nobody", PASSWORD),
        "malformed basic": {"Authorization": "Basic !!!"},
        "unknown scheme": {"Authorization": f"Digest {good}"},
        "forged token": bearer(forged),
        "garbage token": bearer("tgis_garbage"),
        "expired token": bearer(staff["expired"]),
        "revoked token": bearer(staff["revoked"]),
        "revoked api key": {"X-API-Key": staff["revoked"]},
        "jwt wrong signature": bearer(jwks.token(key=jwks.stranger)),
        "jwt wrong issuer": bearer(jwks.token(iss="https://evil.example/realms/tsukuba")),
        "jwt wrong audience": bearer(jwks.token(aud="another-app")),
        "jwt expired": bearer(jwks.token(exp=int(time.time()) - 600, nbf=None, iat=int(time.time()) - 900)),
        "jwt not yet valid": bearer(jwks.token(nbf=int(time.time()) + 600)),
        "jwt without exp": bearer(jwks.token(exp=None)),
        "jwt unknown key id": bearer(jwks.token(kid="rsa-2")),
        "jwt hs256 (algorithm confusion)": bearer(hs256),
        "jwt alg none": bearer(
            jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "roles": ["staff"]}, None, algorithm="none")
        ),
        "forged session cookie": {"Cookie": "tsukuba_gis_session=guessed-session-id"},
    }


def _a_tile(client: httpx.Client, headers: dict[str, str], path: str) -> str:
    """A tile path template with the first tile of the lowest zoom of the layer's tileset."""
    if "{tileMatrix}" not in path:  # a tileset or a tile matrix set
        return path.replace("{tileMatrixSetId}", "WebMercatorQuad")
    tileset_path = path.split("/{tileMatrixSetId}")[0] + "/WebMercatorQuad"
    limit = client.get(f"/internal/api{tileset_path}", headers=headers).json()["tileMatrixSetLimits"][0]
    return (
        path.replace("{tileMatrixSetId}", "WebMercatorQuad")
        .replace("{tileMatrix}", limit["tileMatrix"])
        .replace("{tileRow}", str(limit["minTileRow"]))
        .replace("{tileCol}", str(limit["minTileCol"]))
    )


def staff_routes(client: httpx.Client, headers: dict[str, str], html: bool = True) -> list[str]:
    """Every staff URL: the OpenAPI paths with real ids (and their HTML pages), plus what the
    OpenAPI document does not list (the bare prefix, static files, schemas, viewer config)."""
    openapi = client.get("/internal/api/openapi", params={"f": "json"}, headers=headers).json()
    routes = []
    for path in openapi["paths"]:
        if "{featureId}" in path:
            items = client.get(
                f"/internal/api{path.split('/items/')[0]}/items", params={"limit": 1}, headers=headers
            ).json()
            if not items["features"]:  # a layer with no feature yet (reports): no item to ask
                continue
            path = path.replace("{featureId}", str(items["features"][0]["id"]))
        if "{tileMatrixSetId}" in path:  # vector tiles (server/tiles): a tile the layer has
            path = _a_tile(client, headers, path)
        path = path.replace("{styleId}", "default" if path.startswith("/collections/") else "city")
        assert "{" not in path, path
        if path == "/collections/aerial_photo_sample/legend":  # a photograph has no classes: no legend (404)
            continue
        routes += [f"/internal/api{path}", *([f"/internal/api{path}?f=html"] if html else [])]
    static = next(p for p in sorted(STATIC_DIRS[0].rglob("*.css")))
    schema = next(p for p in sorted(SCHEMAS_DIR.rglob("*.json")))
    routes += [
        "/internal/api",
        "/internal/api/",
        "/internal/",
        "/internal/nothing-here",
        f"/internal/api/static/{static.relative_to(STATIC_DIRS[0])}",
        f"/internal/api/schemas/{schema.relative_to(SCHEMAS_DIR)}",
        "/internal/viewer-config.json",
        "/internal/api/collections/nope/items",
        "/internal/search?q=桜中学校",
        f"/internal/point?lat={SAKURA[1]}&lon={SAKURA[0]}",
    ]
    return routes


def test_every_staff_route_refuses_every_wrong_credential(client, staff, jwks):
    routes = staff_routes(client, bearer(staff["token"]))
    assert any(INTERNAL_LAYER in r for r in routes) and len(routes) > 100
    # the wall never looks at the route; trying each credential on each route proves it

    def attempts(item):
        name, headers = item
        refused = []
        with httpx.Client(base_url=staff["url"], timeout=30) as own:
            for route in routes:
                response = own.get(route, headers=headers)
                refused.append((route, name, response.status_code, response.text))
        return refused

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [r for batch in pool.map(attempts, wrong_credentials(staff, jwks).items()) for r in batch]
    leaks = [
        (route, name, status)
        for route, name, status, body in results
        if status != 401 or INTERNAL_LAYER in body or "内線" in body
    ]
    assert leaks == []
    assert {json.loads(body)["code"] for *_, body in results} <= {
        "AuthenticationRequired",
        "InvalidCredentials",
    }


def test_with_credentials_every_staff_route_answers(client, staff):
    headers = bearer(staff["token"])
    routes = staff_routes(client, headers, html=False)  # the routes exist (HTML: other tests)
    statuses = {route: client.get(route, headers=headers).status_code for route in routes}
    missing = {"/internal/nothing-here", "/internal/", "/internal/api/collections/nope/items"}
    # 204: a tile of a layer with no feature yet (the residents' reports), OGC's empty tile.
    empty = {r for r, s in statuses.items() if s == 204 and "/collections/reports/tiles/" in r}
    assert {r: s for r, s in statuses.items() if s != 200 and r not in missing | empty} == {}
    assert all(statuses[r] == 404 for r in missing)


@pytest.mark.parametrize(
    "raw_path",
    [
        "/internal/api/%2e%2e/api/collections",  # dot segments, encoded
        "/internal/api/collections/%2e%2e/collections",
        "/internal%2Fapi/collections",  # an encoded slash
        "/internal/API/collections",  # case variants are behind the wall or nowhere
        "/Internal/api/collections",
        "//internal/api/collections",
        "/internal/./api/collections",
        "/api/../internal/api/collections",
    ],
)
def test_path_tricks_never_get_past_the_wall(staff, raw_path):
    with httpx.Client(timeout=30) as client:
        request = client.build_request("GET", staff["url"])
        request.url = request.url.copy_with(raw_path=raw_path.encode())
        response = client.send(request)
    assert response.status_code in (401, 404), (raw_path, response.status_code)
    assert INTERNAL_LAYER not in response.text and "内線" not in response.text


def _staff_items(client: httpx.Client, headers: dict[str, str]) -> dict:
    response = client.get(
        f"/internal/api/collections/{INTERNAL_LAYER}/items", params={"limit": 500}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "private, no-store"
    return response.json()


@pytest.mark.parametrize("how", ["basic", "bearer token", "x-api-key", "jwt rs256", "jwt es256"])
def test_staff_credentials_serve_the_internal_layer_and_fields(client, staff, jwks, how):
    headers = {
        "basic": basic("YAMADA", PASSWORD),  # user names are case-insensitive
        "bearer token": bearer(staff["token"]),
        "x-api-key": {"X-API-Key": staff["token"]},
        "jwt rs256": bearer(jwks.token()),
        "jwt es256": bearer(jwks.token(key=jwks.ec, kid="ec-1", alg="ES256", roles=["admin"])),
    }[how]
    page = _staff_items(client, headers)
    assert page["numberMatched"] > 0
    assert STAFF_FIELDS <= set(page["features"][0]["properties"])
    assert any("内線" in str(f["properties"]["extension_number"]) for f in page["features"])
    collections = client.get("/internal/api/collections", params={"f": "json"}, headers=headers)
    assert INTERNAL_LAYER in {c["id"] for c in collections.json()["collections"]}


def test_sso_roles_are_mapped_and_required(client, jwks):
    admin = client.get("/auth/me", headers=bearer(jwks.token(roles=["admin", "staff"]))).json()
    assert (admin["user"], admin["role"], admin["auth"]) == ("suzuki", "admin", "oidc")
    for roles in (["guest"], None, 5, [{"a": 1}], {"staff": True}):
        outsider = client.get("/internal/api/collections", headers=bearer(jwks.token(roles=roles)))
        assert outsider.status_code == 403, roles
        assert outsider.json()["code"] == "Forbidden" and INTERNAL_LAYER not in outsider.text
    keycloak = jwks.token(roles=None, realm_access={"roles": ["staff"]})
    assert client.get("/auth/me", headers=bearer(keycloak)).status_code == 403  # not configured


def test_challenges_name_basic_for_tools_but_not_for_the_viewers_fetch(client):
    tool = client.get("/internal/api/collections")
    assert tool.status_code == 401
    assert tool.headers.get_list("www-authenticate") == [
        'Basic realm="tsukuba-gis staff", charset="UTF-8"',
        'Bearer realm="tsukuba-gis staff"',
    ]
    fetch = client.get("/internal/viewer-config.json", headers={"Sec-Fetch-Mode": "cors"})
    assert fetch.headers.get_list("www-authenticate") == ['Bearer realm="tsukuba-gis staff"']
    assert tool.json() == {
        "code": "AuthenticationRequired",
        "type": "AuthenticationRequired",
        "description": tool.json()["description"],
    }


def test_staff_viewer_config_has_internal_layers_fields_and_api(client, staff):
    staff_config = client.get("/internal/viewer-config.json", headers=bearer(staff["token"])).json()
    public_config = client.get("/viewer-config.json").json()
    assert staff_config["api"] == "/internal/api" and public_config["api"] == "/api"
    assert INTERNAL_LAYER in staff_config["layers"]
    assert INTERNAL_LAYER not in public_config["layers"]
    names = {f["name"] for f in staff_config["layers"][INTERNAL_LAYER]["fields"]}
    assert STAFF_FIELDS <= names
    assert set(public_config["layers"]) < set(staff_config["layers"])


def test_staff_search_and_point_reports_see_internal_layers(client, staff):
    config = client.get("/internal/viewer-config.json", headers=bearer(staff["token"])).json()
    assert config["endpoints"] == {
        "search": "/internal/search",
        "point": "/internal/point",
        "live": "/internal/live.json",
    }
    found = client.get("/internal/search", params={"q": "桜中学校"}, headers=bearer(staff["token"]))
    assert INTERNAL_LAYER in found.text
    assert INTERNAL_LAYER not in client.get("/search", params={"q": "桜中学校"}).text
    where = {"lat": SAKURA[1], "lon": SAKURA[0], "radius": 200}
    staff_report = client.get("/internal/point", params=where, headers=bearer(staff["token"]))
    public_report = client.get("/point", params=where)
    assert staff_report.status_code == public_report.status_code == 200
    assert INTERNAL_LAYER in staff_report.text and INTERNAL_LAYER not in public_report.text


def test_public_api_is_unchanged_and_shows_nothing_internal(client):
    collections = client.get("/api/collections", params={"f": "json"}).json()["collections"]
    ids = {c["id"] for c in collections}
    assert INTERNAL_LAYER not in ids and "shelters" in ids
    hidden = client.get(f"/api/collections/{INTERNAL_LAYER}/items")
    unknown = client.get("/api/collections/definitely_unknown/items")
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["description"] == unknown.json()["description"]
    assert "www-authenticate" not in client.get("/api/collections").headers


def test_gdal_reads_the_staff_layer_with_basic_or_token_and_not_without(staff, tmp_path):
    pyogrio = pytest.importorskip("pyogrio")
    if "OAPIF" not in pyogrio.list_drivers():
        pytest.skip("this GDAL has no OGC API - Features driver")
    url = f"OAPIF:{staff['url']}/internal/api/collections/{INTERNAL_LAYER}"
    # The OAPIF driver sets its own headers, so GDAL_HTTP_HEADERS is ignored there; a header
    # file works (GDAL_HTTP_HEADER_FILE), and so does GDAL_HTTP_AUTH=BEARER.
    header_file = tmp_path / "headers.txt"
    header_file.write_text(f"X-API-Key: {staff['revoked']}\n")
    attempts = [
        ({"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": f"yamada:{PASSWORD}"}, True),
        ({"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": staff["token"]}, True),
        ({}, False),
        ({"GDAL_HTTP_AUTH": "BASIC", "GDAL_HTTP_USERPWD": "yamada:wrong password"}, False),
        ({"GDAL_HTTP_HEADER_FILE": str(header_file)}, False),
    ]
    keys = ("GDAL_HTTP_AUTH", "GDAL_HTTP_USERPWD", "GDAL_HTTP_BEARER", "GDAL_HTTP_HEADER_FILE")
    try:
        for options, works in attempts:
            pyogrio.set_gdal_config_options({k: options.get(k) for k in keys})
            if works:
                frame = pyogrio.read_dataframe(url)
                assert len(frame) > 0 and STAFF_FIELDS <= set(frame.columns)
            else:
                with pytest.raises(pyogrio.errors.DataSourceError, match="401"):
                    pyogrio.read_dataframe(url)
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(keys))
