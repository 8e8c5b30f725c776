"""The generated catalogue is current, and ecsram's own error constants match the vendor's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ecsram.contract.catalogue import vendor

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"


def _generator():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_catalogue", ROOT / "tools" / "generate_catalogue.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="the shared vendor reference is not beside this checkout")
def test_generated_catalogue_matches_the_vendor_reference() -> None:
    generator = _generator()
    for key, catalogue in generator.build(REFERENCE).items():
        committed = (ROOT / "src" / "ecsram" / "contract" / "catalogue" / "data" / f"{key}.json").read_text(
            encoding="utf-8"
        )
        assert committed == generator.render(catalogue), f"run tools/generate_catalogue.py: {key}.json is stale"


def test_regions_come_from_the_catalogue() -> None:
    ids = vendor.region_ids()
    assert {"cn-hangzhou", "cn-beijing", "ap-southeast-1", "us-west-1"} <= ids
    assert len(ids) == len(vendor.regions())
