"""The local CA and server certificate files (ecsram.tls), and the TLS settings' round trip."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ecsram import tls
from ecsram.config import Settings


def _leaf(directory: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((directory / tls.SERVER_CERT).read_bytes())


def test_files_are_created_once_and_then_kept(tmp_path: Path) -> None:
    first = tls.ensure_server_files(tmp_path)
    assert first.ca == tmp_path / tls.CA_CERT and first.cert == tmp_path / tls.SERVER_CERT
    assert stat.S_IMODE((tmp_path / tls.CA_KEY).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / tls.SERVER_KEY).stat().st_mode) == 0o600
    contents = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    again = tls.ensure_server_files(tmp_path)
    assert again == first
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == contents
    tls.server_context(first.cert, first.key)  # loads as the server loads it


def test_a_server_certificate_close_to_expiry_is_reissued_by_the_same_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tls.ensure_server_files(tmp_path)
    ca = tls.fingerprint(tmp_path / tls.CA_CERT)
    old = _leaf(tmp_path)
    # Every certificate is "close to expiry" when the renewal margin exceeds its lifetime.
    monkeypatch.setattr(tls, "RENEW_BEFORE", tls.SERVER_LIFETIME * 2)
    tls.ensure_server_files(tmp_path)
    new = _leaf(tmp_path)
    assert new.serial_number != old.serial_number
    assert tls.fingerprint(tmp_path / tls.CA_CERT) == ca
    new.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / tls.CA_CERT).read_bytes()))


def test_a_ca_key_with_wider_permissions_is_narrowed(tmp_path: Path) -> None:
    tls.ensure_ca(tmp_path)
    (tmp_path / tls.CA_KEY).chmod(0o644)
    tls.ensure_ca(tmp_path)
    assert stat.S_IMODE((tmp_path / tls.CA_KEY).stat().st_mode) == 0o600


def test_a_damaged_ca_is_reported_not_replaced(tmp_path: Path) -> None:
    tls.ensure_ca(tmp_path)
    (tmp_path / tls.CA_KEY).write_text("garbage")
    with pytest.raises(tls.TlsSetupError, match=str(tmp_path / tls.CA_KEY)):
        tls.ensure_server_files(tmp_path)
    assert (tmp_path / tls.CA_KEY).read_text() == "garbage"


def test_missing_files_are_named(tmp_path: Path) -> None:
    files = tls.ensure_server_files(tmp_path)
    with pytest.raises(tls.TlsSetupError, match=str(tmp_path / "none.pem")):
        tls.server_context(tmp_path / "none.pem", files.key)
    with pytest.raises(tls.TlsSetupError, match=str(tmp_path / "nokey.pem")):
        tls.server_context(files.cert, tmp_path / "nokey.pem")


def _ensure_ca_together(directory: str, barrier: Any, results: Any) -> None:
    barrier.wait()  # all at once, as servers started together would
    results.put(tls.fingerprint(tls.ensure_ca(Path(directory))))


def test_processes_starting_together_share_one_ca(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(4), context.Queue()
    processes = [context.Process(target=_ensure_ca_together, args=(str(tmp_path), barrier, results)) for _ in range(4)]
    for process in processes:
        process.start()
    fingerprints = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    assert len(set(fingerprints)) == 1
    assert fingerprints[0] == tls.fingerprint(tmp_path / tls.CA_CERT)


def test_tls_settings_survive_the_trip_to_the_workers() -> None:
    settings = Settings(tls=True, tls_dir="/x/tls", tls_cert="/x/c.pem", tls_key="/x/k.pem")
    assert Settings.from_env(settings.to_env()) == settings
    assert settings.scheme == "https" and Settings().scheme == "http"
