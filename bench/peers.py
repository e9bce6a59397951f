"""The C/C++ peers of the serving bench: MapServer 8 and QGIS Server, both FastCGI under lighttpd.

Debian's packages (``make bench`` installs them: BENCH_PACKAGES in the Makefile). Each instance
is a lighttpd in the foreground on a free loopback port running 2 FastCGI processes (one per
core, as every server of the bench has 2 workers), over the same tables as ours: the PostGIS
copy of the bench store, or the GeoPackage store itself (GDAL's OGR driver reads it).

MapServer is tuned as ``/work/shared/bench-peers/mapserver`` found mattered: a layer EXTENT (no
extent query per request), ``CLOSE_CONNECTION=DEFER`` (one database connection per process),
and an index on the id it looks features up by (the store's own index on ``building_id``).
QGIS Server gets a project written by PyQGIS (Debian's python3-qgis) with both layers
published for WFS / OGC API - Features.
"""

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from bench import servers
from bench.servers import SCHEMA, Server, free_port

MAPSERV = Path("/usr/lib/cgi-bin/mapserv")
QGIS_FCGI = Path("/usr/lib/cgi-bin/qgis_mapserv.fcgi")
EXTENT = "139.9 35.9 140.3 36.3"  # the bench data's box (lon/lat), as the tuned setup had it
TABLES = {
    "buildings": ("l_buildings_v1", "building_id", "POLYGON"),
    "facilities": ("l_facilities_v1", "facility_id", "POINT"),
}


def versions() -> dict[str, str]:
    """The peers' versions as their packages report them."""
    found = {}
    if shutil.which("mapserv"):
        out = subprocess.run(["mapserv", "-v"], capture_output=True, text=True).stdout
        found["mapserver"] = out.split(" OUTPUT=")[0].strip()
    query = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", "qgis-server"], capture_output=True, text=True
    )
    if query.returncode == 0:
        found["qgis-server"] = f"QGIS Server {query.stdout.strip()}"
    lighttpd = subprocess.run(["lighttpd", "-v"], capture_output=True, text=True).stdout.split("\n")[0]
    found["lighttpd"] = lighttpd.strip()
    return found


def _lighttpd_conf(work: Path, name: str, port: int, prefix: str, binary: Path, env: dict[str, str]) -> Path:
    environment = ", ".join(f'"{k}" => "{v}"' for k, v in env.items())
    conf = work / f"{name}-lighttpd.conf"
    conf.write_text(
        textwrap.dedent(f"""\
        server.modules = ("mod_fastcgi")
        server.bind = "127.0.0.1"
        server.port = {port}
        server.document-root = "{work}"
        server.errorlog = "{work}/{name}-error.log"
        server.max-keep-alive-requests = 100000
        server.max-keep-alive-idle = 60
        fastcgi.server = ( "{prefix}" => ((
            "bin-path" => "{binary}",
            "socket" => "{work}/{name}.sock",
            "check-local" => "disable",
            "max-procs" => {servers.WORKERS},
            "bin-environment" => ( {environment} )
        )))
        """),
        encoding="utf-8",
    )
    return conf


def _start(name: str, conf: Path, port: int, work: Path, ready: str) -> Server:
    # lighttpd's FastCGI workers start slowly (a request may wait 30 s); it logs its errors aside.
    argv = ["lighttpd", "-D", "-f", str(conf)]
    return servers._start(
        name,
        argv,
        {},
        port,
        work,
        ready,
        request_timeout=30,
        poll_s=0.5,
        error_log=work / f"{name}-error.log",
    )


# -- MapServer 8 -----------------------------------------------------------------------------


def _mapserver_layer(collection: str, connection: str, store: str) -> str:
    table, id_field, kind = TABLES[collection]
    if store == "postgis":
        source = f"""CONNECTIONTYPE POSTGIS
    PROCESSING "CLOSE_CONNECTION=DEFER"
    CONNECTION "{connection}"
    DATA "geom from {SCHEMA}.{table} using unique {id_field} using srid=4326\""""
    else:
        source = f"""CONNECTIONTYPE OGR
    CONNECTION "{connection}"
    DATA "{table}\""""
    return f"""
  LAYER
    NAME "{collection}"
    TYPE {kind}
    {source}
    PROJECTION "init=epsg:4326" END
    METADATA
      "oga_title" "{collection}"
      "gml_include_items" "all"
      "gml_exclude_items" "fid"
      "gml_featureid" "{id_field}"
      "gml_types" "auto"
    END
    TEMPLATE "ttt"
    STATUS ON
    EXTENT {EXTENT}
  END"""


def mapfile(work: Path, name: str, port: int, connection: str, store: str) -> Path:
    """The mapfile of one MapServer instance: both bench layers, OGC API on."""
    layers = "".join(_mapserver_layer(c, connection, store) for c in TABLES)
    path = work / f"{name}.map"
    path.write_text(
        f"""MAP
  NAME "bench"
  EXTENT {EXTENT}
  UNITS DD
  PROJECTION "init=epsg:4326" END
  CONFIG "MS_ERRORFILE" "{work}/{name}-mapserver.log"
  WEB
    METADATA
      "ows_title" "bench"
      "ows_enable_request" "*"
      "oga_enable_request" "*"
      "ows_srs" "EPSG:4326"
      "oga_onlineresource" "http://127.0.0.1:{port}/mapserv/bench/ogcapi"
      "oga_html_template_directory" "/usr/share/mapserver/ogcapi/templates/html-plain/"
      "oga_max_limit" "10000"
    END
  END{layers}
END
""",
        encoding="utf-8",
    )
    return path


def start_mapserver(name: str, work: Path, store: str, connection: str) -> Server:
    """MapServer 8 (``mapserv`` as FastCGI, 2 processes) on PostGIS (a libpq string) or the GeoPackage."""
    port = free_port()
    path = mapfile(work, name, port, connection, store)
    config = work / f"{name}-mapserver.conf"
    config.write_text(
        f'CONFIG\n  ENV\n    MS_MAP_PATTERN "^{work}/"\n  END\n  MAPS\n    "bench" "{path}"\n  END\nEND\n',
        encoding="utf-8",
    )
    conf = _lighttpd_conf(work, name, port, "/mapserv", MAPSERV, {"MAPSERVER_CONFIG_FILE": str(config)})
    return _start(name, conf, port, work, "/mapserv/bench/ogcapi/collections?f=json")


# -- QGIS Server -----------------------------------------------------------------------------

PROJECT_SCRIPT = """
import sys
from qgis.core import QgsApplication, QgsProject, QgsVectorLayer
app = QgsApplication([], False)
app.initQgis()
project = QgsProject.instance()
out, store, source = sys.argv[1], sys.argv[2], sys.argv[3]
ids = []
for collection, table, kind in [a.split(":") for a in sys.argv[4:]]:
    if store == "postgis":
        uri = f"{source} key='fid' srid=4326 type={kind} checkPrimaryKeyUnicity='0'"
        uri += f' table="%s"."{table}" (geom)'
        layer = QgsVectorLayer(uri % SCHEMA, collection, "postgres")
    else:
        layer = QgsVectorLayer(f"{source}|layername={table}", collection, "ogr")
    if not layer.isValid():
        raise SystemExit(f"QGIS cannot open {collection} ({store})")
    layer.setShortName(collection)
    project.addMapLayer(layer)
    ids.append(layer.id())
project.writeEntry("WFSLayers", "/", ids)
project.writeEntry("WMSServiceCapabilities", "/", True)
project.writeEntry("WMSExtent", "/", ["139.9", "35.9", "140.3", "36.3"])
project.setCrs(layer.crs())
if not project.write(out):
    raise SystemExit("QGIS could not write the project")
app.exitQgis()
"""


def qgis_project(work: Path, name: str, store: str, source: str) -> Path:
    """A QGIS project with both bench layers published for OGC API - Features (PyQGIS)."""
    path = work / f"{name}.qgs"
    script = work / "qgis-project.py"
    script.write_text(PROJECT_SCRIPT.replace("SCHEMA", repr(SCHEMA), 1), encoding="utf-8")
    kinds = {"POLYGON": "MultiPolygon", "POINT": "Point"}
    layers = [f"{c}:{t}:{kinds[k]}" for c, (t, _, k) in TABLES.items()]
    subprocess.run(
        ["/usr/bin/python3", str(script), str(path), store, source, *layers],
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(work)},
        capture_output=True,
        timeout=300,
    )
    return path


def start_qgis(name: str, work: Path, store: str, source: str) -> Server:
    """QGIS Server (``qgis_mapserv.fcgi``, 2 processes) with OGC API - Features (``/wfs3``)."""
    port = free_port()
    project = qgis_project(work, name, store, source)
    env = {
        "QGIS_PROJECT_FILE": str(project),
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(work),
        "QGIS_SERVER_LOG_LEVEL": "2",
        "QGIS_SERVER_LOG_STDERR": "1",
        "QGIS_SERVER_API_WFS3_MAX_LIMIT": "10000",
        "QGIS_SERVER_PARALLEL_RENDERING": "false",
    }
    conf = _lighttpd_conf(work, name, port, "/qgis", QGIS_FCGI, env)
    return _start(name, conf, port, work, "/qgis/wfs3/collections.json")
