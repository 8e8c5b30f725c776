"""Generate ecsram's wire catalogue from the vendor's published OpenAPI metadata.

The vendor metadata (trimmed copies live in the shared reference folder) is the source of
parameter names, types, limits and error codes. The installed package must not read that
folder at run time, so this script distils it into ``src/ecsram/contract/catalogue/data/<product>.json``.

Usage: python tools/generate_catalogue.py [REFERENCE_DIR]
(default: ../shared/reference relative to the repository root). A unit test checks that the
committed files are up to date whenever the reference folder is present.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "src" / "ecsram" / "contract" / "catalogue" / "data"
SOURCES = {
    "ecs": "ecs_2014-05-26.json",
    "ram": "ram_2015-05-01.json",
    "sts": "sts_2015-04-01.json",
    "actiontrail": "actiontrail_2020-07-06.json",
}
_KEPT_SCHEMA_KEYS = ("type", "format", "minimum", "maximum", "minLength", "maxLength", "enum", "maxItems")


def _number(value: Any) -> Any:
    """The metadata writes limits as strings ("50"); the catalogue keeps numbers."""
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


def _parameter(raw: dict[str, Any]) -> dict[str, Any]:
    schema = raw.get("schema", {})
    out: dict[str, Any] = {"name": raw["name"], "required": bool(schema.get("required", False))}
    for key in _KEPT_SCHEMA_KEYS:
        if key in schema:
            value = schema[key]
            out[key] = _number(value) if key in ("minimum", "maximum", "minLength", "maxLength") else value
    return out


def _api(raw: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    params = []
    for p in raw.get("parameters", []):
        if p["name"] in seen:  # the metadata lists RegionId twice for RunInstances
            continue
        seen.add(p["name"])
        params.append(_parameter(p))
    errors = {
        entry["errorCode"]: {"status": int(status), "message": entry.get("errorMessage", "")}
        for status, entries in sorted(raw.get("errorCodes", {}).items())
        for entry in entries
    }
    return {"methods": raw.get("methods", []), "parameters": params, "errors": errors}


def build(reference: Path) -> dict[str, dict[str, Any]]:
    catalogues: dict[str, dict[str, Any]] = {}
    for key, filename in SOURCES.items():
        raw = json.loads((reference / filename).read_text(encoding="utf-8"))
        catalogue: dict[str, Any] = {
            "product": raw["product"]["product"],
            "version": raw["product"]["version"],
            "apis": {name: _api(api) for name, api in sorted(raw["apis"].items())},
        }
        if "endpoints" in raw:
            catalogue["regions"] = [
                {"RegionId": e["regionId"], "RegionEndpoint": e["endpoint"]} for e in raw["endpoints"]
            ]
        catalogues[key] = catalogue
    return catalogues


def render(catalogue: dict[str, Any]) -> str:
    return json.dumps(catalogue, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    reference = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "reference"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for key, catalogue in build(reference).items():
        (OUTPUT / f"{key}.json").write_text(render(catalogue), encoding="utf-8")
        print(f"wrote {OUTPUT / f'{key}.json'} ({len(catalogue['apis'])} APIs)")


if __name__ == "__main__":
    main()
