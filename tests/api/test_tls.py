"""``ecsram serve --tls``: every official client, in its default protocol, over HTTPS.

Findings that the tests below pin down (they are also in docs/tools.md):
- v1 core: RAM and STS requests default to https, ECS requests to http. It trusts a CA through
  ``AcsClient(verify=PATH)`` or ``ALIBABA_CLOUD_CA_BUNDLE``; it ignores REQUESTS_CA_BUNDLE and
  SSL_CERT_FILE (it calls ``Session.send`` with its vendored certifi bundle).
- Tea Python: ``Config(ca=PATH)`` or ``SSL_CERT_FILE``; it ignores REQUESTS_CA_BUNDLE.
- Node (pop-core and Tea): ``NODE_EXTRA_CA_CERTS``.
"""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecsram.store.accounts import AccessKey
from ecsram.testing.accounts import create_account
from ecsram.testing.server import ServerProcess
from ecsram.tls import fingerprint

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls") / "ca-home"


@pytest.fixture(scope="module")
def https_server(database_factory: Callable[[], str], tls_dir: Path) -> Iterator[ServerProcess]:
    """One HTTPS server with two workers and a plain metadata listener, shared by this module."""
    process = ServerProcess(
        database_factory(), workers=2, tls=True, tls_dir=tls_dir, extra_args=("--metadata-listen", "127.0.0.1:0")
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def key(https_server: ServerProcess) -> AccessKey:
    return create_account(https_server.database_url)


@pytest.fixture
def ca(https_server: ServerProcess) -> str:
    assert https_server.ca_path is not None
    return str(https_server.ca_path)


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set the variable each client reads; none may leak in from the environment."""
    for name in ("ALIBABA_CLOUD_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def _v1(key: AccessKey, **kwargs: Any) -> Any:
    from aliyunsdkcore.client import AcsClient

    return AcsClient(key.access_key_id, key.secret, "cn-hangzhou", auto_retry=False, **kwargs)


def _tea_config(endpoint: str, key: AccessKey, **kwargs: Any) -> Any:
    from alibabacloud_tea_openapi.utils_models import Config

    return Config(
        access_key_id=key.access_key_id,
        access_key_secret=key.secret,
        endpoint=endpoint,
        protocol="https",
        region_id="cn-hangzhou",
        **kwargs,
    )


def _in_subprocess(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Python clients read some trust settings once per process: try them in a fresh one."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, **env}, check=False
    )


# --- the banner and the CA ----------------------------------------------------------------------


def test_banner_shows_https_and_the_ca(https_server: ServerProcess, tls_dir: Path) -> None:
    banner = "".join(https_server.output)
    assert f"ecsram listening on https://127.0.0.1:{https_server.port} (2 workers)" in banner
    assert f"TLS CA: {tls_dir / 'ca.pem'}" in banner
    assert f"health: https://127.0.0.1:{https_server.port}/_ecsram/health" in banner
    assert "metadata listener: http://127.0.0.1:" in banner  # the dedicated listener stays plain


def test_ca_key_is_private_and_the_certificate_names_every_loopback_host(
    https_server: ServerProcess, tls_dir: Path
) -> None:
    from cryptography import x509

    assert stat.S_IMODE((tls_dir / "ca-key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE((tls_dir / "localhost-key.pem").stat().st_mode) == 0o600
    served = ssl.get_server_certificate(("127.0.0.1", https_server.port))
    cert = x509.load_pem_x509_certificate(served.encode())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    ca = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    cert.verify_directly_issued_by(ca)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_certificate_verifies_for_each_name(https_server: ServerProcess, ca: str, host: str) -> None:
    context = ssl.create_default_context(cafile=ca)
    connection = http.client.HTTPSConnection(host, https_server.port, timeout=10, context=context)
    try:
        connection.request("GET", "/_ecsram/health")
        assert connection.getresponse().status == 200
    finally:
        connection.close()


def test_ipv6_loopback_verifies(database_factory: Callable[[], str], tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("no ::1 on this machine")
    with ServerProcess(database_factory(), host="::1", tls=True, tls_dir=tmp_path / "tls") as server:
        assert server.ca_path is not None
        context = ssl.create_default_context(cafile=str(server.ca_path))
        connection = http.client.HTTPSConnection("::1", server.port, timeout=10, context=context)
        try:
            connection.request("GET", "/_ecsram/health")
            assert connection.getresponse().status == 200
        finally:
            connection.close()


def test_the_ca_is_created_once_and_kept_across_restarts(database_factory: Callable[[], str], tmp_path: Path) -> None:
    directory = tmp_path / "tls"
    server = ServerProcess(database_factory(), tls=True, tls_dir=directory)
    with server:
        assert server.ca_path == directory / "ca.pem"
        first = fingerprint(server.ca_path)
        key_bytes = (directory / "ca-key.pem").read_bytes()
        trusted = ssl.create_default_context(cafile=str(server.ca_path))
        server.restart()
        assert fingerprint(directory / "ca.pem") == first
        assert (directory / "ca-key.pem").read_bytes() == key_bytes
        # A client that trusted the CA before the restart still trusts the server after it.
        connection = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10, context=trusted)
        try:
            connection.request("GET", "/_ecsram/health")
            assert connection.getresponse().status == 200
        finally:
            connection.close()
    printed = subprocess.run(
        [sys.executable, "-m", "ecsram", "tls", "ca-path", "--tls-dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert printed.stdout.strip() == str(directory / "ca.pem")
    assert fingerprint(directory / "ca.pem") == first


def test_tls_ca_path_creates_the_ca_and_honours_the_environment(tmp_path: Path) -> None:
    directory = tmp_path / "from-env"
    env = {**os.environ, "ECSRAM_TLS_DIR": str(directory)}
    printed = subprocess.run(
        [sys.executable, "-m", "ecsram", "tls", "ca-path"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    assert printed.stdout.strip() == str(directory / "ca.pem")
    assert (directory / "ca.pem").read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert stat.S_IMODE((directory / "ca-key.pem").stat().st_mode) == 0o600


def test_a_server_certificate_that_does_not_fit_is_issued_again(
    database_factory: Callable[[], str], tmp_path: Path
) -> None:
    """The leaf is kept while it is good, and re-issued (by the same CA) when it is not."""
    from cryptography import x509

    directory = tmp_path / "tls"
    server = ServerProcess(database_factory(), tls=True, tls_dir=directory)
    with server:
        leaf = (directory / "localhost.pem").read_bytes()
        ca = fingerprint(directory / "ca.pem")
        server.restart()
        assert (directory / "localhost.pem").read_bytes() == leaf  # still good: kept
        server.stop()
        # Replace the leaf with a certificate that does not match its key: ecsram must re-issue it.
        (directory / "localhost.pem").write_bytes((directory / "ca.pem").read_bytes())
        server.start()
        renewed = x509.load_pem_x509_certificate((directory / "localhost.pem").read_bytes())
        names = renewed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]
        renewed.verify_directly_issued_by(x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes()))
        assert fingerprint(directory / "ca.pem") == ca
        assert server.healthy()


# --- every official client in its default protocol -----------------------------------------------


def test_v1_core_ram_and_sts_default_to_https(https_server: ServerProcess, key: AccessKey, ca: str) -> None:
    from aliyunsdkram.request.v20150501.ListUsersRequest import ListUsersRequest
    from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest

    client = _v1(key, verify=ca)
    identity = GetCallerIdentityRequest()
    users = ListUsersRequest()
    assert identity.get_protocol_type() == "https" and users.get_protocol_type() == "https"
    for request in (identity, users):
        request.set_endpoint(https_server.endpoint)  # no set_protocol_type: the SDK's default
    assert json.loads(client.do_action_with_exception(identity))["AccountId"] == key.account_id
    assert json.loads(client.do_action_with_exception(users))["Users"] == {"User": []}


def test_v1_core_ecs_defaults_to_http_and_works_over_https_when_asked(
    https_server: ServerProcess, key: AccessKey, ca: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aliyunsdkcore.acs_exception.exceptions import ClientException
    from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest

    monkeypatch.setenv("ALIBABA_CLOUD_CA_BUNDLE", ca)  # the v1 core's own trust variable
    default = DescribeRegionsRequest()
    assert default.get_protocol_type() == "http"
    default.set_endpoint(https_server.endpoint)
    with pytest.raises(ClientException) as plain:  # plain HTTP to the TLS port: refused, not hung
        _v1(key).do_action_with_exception(default)
    assert plain.value.get_error_code() == "SDK.HttpError"
    secure = DescribeRegionsRequest()
    secure.set_endpoint(https_server.endpoint)
    secure.set_protocol_type("https")
    regions = json.loads(_v1(key).do_action_with_exception(secure))["Regions"]["Region"]
    assert any(region["RegionId"] == "cn-hangzhou" for region in regions)


def test_v1_core_trusts_alibaba_cloud_ca_bundle_but_not_requests_ca_bundle(
    https_server: ServerProcess, key: AccessKey, ca: str
) -> None:
    code = (
        "import json, sys\n"
        "from aliyunsdkcore.client import AcsClient\n"
        "from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest\n"
        f"client = AcsClient({key.access_key_id!r}, {key.secret!r}, 'cn-hangzhou', auto_retry=False)\n"
        "request = GetCallerIdentityRequest()\n"
        f"request.set_endpoint({https_server.endpoint!r})\n"
        "try:\n"
        "    print(json.loads(client.do_action_with_exception(request))['AccountId'])\n"
        "except Exception as exc:\n"
        "    print('FAILED', exc)\n"
    )
    assert _in_subprocess(code, {"ALIBABA_CLOUD_CA_BUNDLE": ca}).stdout.strip() == key.account_id
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        ignored = _in_subprocess(code, {variable: ca}).stdout
        assert ignored.startswith("FAILED") and "CERTIFICATE_VERIFY_FAILED" in ignored, (variable, ignored)


def test_tea_python_with_the_ca_option(https_server: ServerProcess, key: AccessKey, ca: str) -> None:
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_ecs20140526.client import Client as Ecs
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_ram20150501.client import Client as Ram
    from alibabacloud_sts20150401.client import Client as Sts

    endpoint = https_server.endpoint
    regions = Ecs(_tea_config(endpoint, key, ca=ca)).describe_regions(ecs_models.DescribeRegionsRequest())
    assert regions.status_code == 200 and regions.body.regions.region
    users = Ram(_tea_config(endpoint, key, ca=ca)).list_users(ram_models.ListUsersRequest())
    assert users.status_code == 200 and users.body.users.user == []
    identity = Sts(_tea_config(endpoint, key, ca=ca)).get_caller_identity()
    assert identity.body.account_id == key.account_id


def test_tea_python_trusts_ssl_cert_file_but_not_requests_ca_bundle(
    https_server: ServerProcess, key: AccessKey, ca: str
) -> None:
    code = (
        "from alibabacloud_sts20150401.client import Client\n"
        "from alibabacloud_tea_openapi.utils_models import Config\n"
        f"config = Config(access_key_id={key.access_key_id!r}, access_key_secret={key.secret!r},\n"
        f"                endpoint={https_server.endpoint!r}, protocol='https', region_id='cn-hangzhou')\n"
        "try:\n"
        "    print(Client(config).get_caller_identity().body.account_id)\n"
        "except Exception as exc:\n"
        "    print('FAILED', exc)\n"
    )
    assert _in_subprocess(code, {"SSL_CERT_FILE": ca}).stdout.strip() == key.account_id
    ignored = _in_subprocess(code, {"REQUESTS_CA_BUNDLE": ca}).stdout
    assert ignored.startswith("FAILED") and "CERTIFICATE_VERIFY_FAILED" in ignored


@pytest.mark.node
@pytest.mark.parametrize("client", ["pop", "tea-ecs"])
def test_node_clients_with_node_extra_ca_certs(
    https_server: ServerProcess, key: AccessKey, ca: str, node: Callable[..., Any], client: str
) -> None:
    request = {
        "client": client,
        "endpoint": https_server.endpoint,
        "accessKeyId": key.access_key_id,
        "accessKeySecret": key.secret,
        "action": "DescribeRegions",
        "protocol": "https",
    }
    trusted = node(request, env={"NODE_EXTRA_CA_CERTS": ca})
    assert trusted["ok"], trusted
    assert any(region["RegionId"] == "cn-hangzhou" for region in trusted["body"]["Regions"]["Region"])
    untrusted = node(request)
    assert not untrusted["ok"]
    assert untrusted["code"] == "UNABLE_TO_VERIFY_LEAF_SIGNATURE", untrusted


# --- failures are loud ---------------------------------------------------------------------------


def test_python_clients_that_do_not_trust_the_ca_fail_the_handshake(
    https_server: ServerProcess, key: AccessKey
) -> None:
    from aliyunsdkcore.acs_exception.exceptions import ClientException
    from aliyunsdksts.request.v20150401.GetCallerIdentityRequest import GetCallerIdentityRequest

    request = GetCallerIdentityRequest()
    request.set_endpoint(https_server.endpoint)
    with pytest.raises(ClientException) as v1:
        _v1(key).do_action_with_exception(request)
    assert v1.value.get_error_code() == "SDK.HttpError"
    assert "CERTIFICATE_VERIFY_FAILED" in v1.value.get_error_msg()
    # Tea keeps connections per endpoint for the whole process, so a client in this process
    # would reuse one that an earlier test opened with the CA trusted: ask a fresh process.
    code = (
        "from alibabacloud_sts20150401.client import Client\n"
        "from alibabacloud_tea_openapi.utils_models import Config\n"
        f"config = Config(access_key_id={key.access_key_id!r}, access_key_secret={key.secret!r},\n"
        f"                endpoint={https_server.endpoint!r}, protocol='https', region_id='cn-hangzhou')\n"
        "try:\n"
        "    Client(config).get_caller_identity()\n"
        "    print('SUCCEEDED')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    tea = _in_subprocess(code, {}).stdout
    assert "CERTIFICATE_VERIFY_FAILED" in tea and "SUCCEEDED" not in tea


def test_plain_http_to_the_tls_port_is_closed_and_does_not_stall_the_server(
    https_server: ServerProcess, ca: str
) -> None:
    idle = socket.create_connection(("127.0.0.1", https_server.port), timeout=10)  # never says anything
    plain = socket.create_connection(("127.0.0.1", https_server.port), timeout=10)
    try:
        started = time.monotonic()
        plain.sendall(b"GET /_ecsram/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            answer = plain.recv(4096)
        except ConnectionResetError:
            answer = b""
        assert not answer.startswith(b"HTTP/1.1 200")
        assert time.monotonic() - started < 5
        for _ in range(4):  # both workers still serve HTTPS while the idle connection is open
            assert https_server.healthy()
    finally:
        idle.close()
        plain.close()


def _ecsram(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ecsram", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_missing_certificate_file_is_a_clear_error(database_factory: Callable[[], str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    result = _ecsram(
        "serve", "--port", "0", "--database", database_factory(), "--tls-cert", str(missing), "--tls-key", str(key)
    )
    assert result.returncode != 0
    assert str(missing) in result.stderr and "Traceback" not in result.stderr + result.stdout
    via_env = _ecsram(
        "serve",
        "--port",
        "0",
        "--database",
        database_factory(),
        env={"ECSRAM_TLS_CERT": str(missing), "ECSRAM_TLS_KEY": str(key)},
    )
    assert via_env.returncode != 0 and str(missing) in via_env.stderr and "Traceback" not in via_env.stderr


def test_a_key_that_is_not_the_certificates_is_a_clear_error(
    database_factory: Callable[[], str], tmp_path: Path
) -> None:
    cert, _key = _self_signed(tmp_path / "a")
    _cert, other_key = _self_signed(tmp_path / "b")
    result = _ecsram(
        "serve", "--port", "0", "--database", database_factory(), "--tls-cert", str(cert), "--tls-key", str(other_key)
    )
    assert result.returncode != 0
    assert str(cert) in result.stderr and "Traceback" not in result.stderr


def test_certificate_without_key_is_a_usage_error(database_factory: Callable[[], str], tmp_path: Path) -> None:
    cert, _key = _self_signed(tmp_path)
    result = _ecsram("serve", "--port", "0", "--database", database_factory(), "--tls-cert", str(cert))
    assert result.returncode == 2 and "--tls-key" in result.stderr


def test_an_unusable_tls_directory_is_a_clear_error(database_factory: Callable[[], str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    result = _ecsram("serve", "--port", "0", "--database", database_factory(), "--tls", "--tls-dir", str(blocker))
    assert result.returncode != 0
    assert str(blocker) in result.stderr and "Traceback" not in result.stderr


def test_serve_help_describes_each_tls_option() -> None:
    result = _ecsram("serve", "--help")
    for option, variable in (
        ("--tls", "ECSRAM_TLS"),
        ("--tls-dir", "ECSRAM_TLS_DIR"),
        ("--tls-cert", "ECSRAM_TLS_CERT"),
        ("--tls-key", "ECSRAM_TLS_KEY"),
    ):
        assert option in result.stdout and variable in result.stdout


# --- a user's own certificate -------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A user's own certificate for 127.0.0.1, made here rather than by ecsram's CA code."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "my own test certificate")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_a_users_own_certificate(database_factory: Callable[[], str], tmp_path: Path) -> None:
    cert, key_file = _self_signed(tmp_path / "mine")
    unused_dir = tmp_path / "unused-tls-dir"
    server = ServerProcess(
        database_factory(), tls_cert=cert, tls_key=key_file, trust=cert, tls_dir=unused_dir, workers=2
    )
    with server:
        assert f"TLS certificate: {cert}" in "".join(server.output) and server.ca_path is None
        assert not unused_dir.exists()  # no local CA is made when the user brings a certificate
        key = create_account(server.database_url)
        from alibabacloud_sts20150401.client import Client as Sts

        identity = Sts(_tea_config(server.endpoint, key, ca=str(cert))).get_caller_identity()
        assert identity.body.account_id == key.account_id
        served = ssl.get_server_certificate(("127.0.0.1", server.port))
        assert served.strip() == cert.read_text().strip()


# --- the metadata service ------------------------------------------------------------------------


def test_metadata_listener_stays_plain_http_and_the_proxy_form_works_over_tls(
    https_server: ServerProcess, ca: str
) -> None:
    """A dedicated listener is plain HTTP like 100.100.100.200; the API port's proxy form speaks TLS."""
    [listener] = https_server.metadata_listeners
    host, port = listener.rsplit(":", 1)
    plain = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        plain.request("GET", "/latest/meta-data/instance-id")
        answer = plain.getresponse()
        # The metadata service answered in plain HTTP (this unpinned listener needs an instance named).
        assert answer.status == 400 and b"pinned listener" in answer.read()
    finally:
        plain.close()
    secure = http.client.HTTPSConnection(
        "127.0.0.1", https_server.port, timeout=10, context=ssl.create_default_context(cafile=ca)
    )
    try:
        secure.request(
            "GET", "http://100.100.100.200/latest/meta-data/instance-id", headers={"Host": "100.100.100.200"}
        )
        answer = secure.getresponse()
        assert answer.status == 407 and "proxy-authenticate" in {k.lower() for k, _ in answer.getheaders()}
    finally:
        secure.close()


def test_secure_transport_condition_sees_https(
    https_server: ServerProcess, server_factory: Callable[..., ServerProcess], key: AccessKey, ca: str
) -> None:
    """acs:SecureTransport is true over the TLS port and false over plain HTTP on the same store."""
    from alibabacloud_ram20150501 import models as ram
    from alibabacloud_ram20150501.client import Client as Ram
    from alibabacloud_sts20150401.client import Client as Sts

    admin = Ram(_tea_config(https_server.endpoint, key, ca=ca))
    admin.create_user(ram.CreateUserRequest(user_name="tls-only"))
    document = {
        "Version": "1",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "ram:ListUsers",
                "Resource": "*",
                "Condition": {"Bool": {"acs:SecureTransport": "true"}},
            }
        ],
    }
    admin.create_policy(ram.CreatePolicyRequest(policy_name="TlsOnly", policy_document=json.dumps(document)))
    admin.attach_policy_to_user(
        ram.AttachPolicyToUserRequest(policy_type="Custom", policy_name="TlsOnly", user_name="tls-only")
    )
    created = admin.create_access_key(ram.CreateAccessKeyRequest(user_name="tls-only")).body.access_key
    user = AccessKey(created.access_key_id, created.access_key_secret, key.account_id, None, "Active")
    assert Ram(_tea_config(https_server.endpoint, user, ca=ca)).list_users(ram.ListUsersRequest()).status_code == 200
    plain_server = server_factory(https_server.database_url)
    from alibabacloud_tea_openapi.utils_models import Config

    plain = Ram(
        Config(
            access_key_id=user.access_key_id,
            access_key_secret=user.secret,
            endpoint=plain_server.endpoint,
            protocol="http",
            region_id="cn-hangzhou",
        )
    )
    with pytest.raises(Exception) as denied:
        plain.list_users(ram.ListUsersRequest())
    assert getattr(denied.value, "code", None) == "NoPermission", denied.value
    assert Sts(_tea_config(https_server.endpoint, user, ca=ca)).get_caller_identity().body.account_id == key.account_id


def test_python_credentials_library_through_the_tls_port_as_an_https_proxy(
    https_server: ServerProcess, server_factory: Callable[..., ServerProcess], key: AccessKey, ca: str
) -> None:
    """alibabacloud-credentials' ecs_ram_role provider with ``proxy="https://<instance>:@host:port"``:
    the proxy form of the metadata service works on the TLS port."""
    from alibabacloud_credentials.client import Client as Credentials
    from alibabacloud_credentials.models import Config as CredentialsConfig
    from alibabacloud_ecs20140526 import models as ecs_models
    from alibabacloud_ecs20140526.client import Client as Ecs
    from alibabacloud_ram20150501 import models as ram_models
    from alibabacloud_tea_openapi.utils_models import Config

    from tests.conftest import Sdk
    from tests.support.ecs import REGION, allow, attach, create_role, run_instances

    # Set up the role and instance through a plain server on the same store (the helpers speak http).
    plain = server_factory(https_server.database_url)
    sdk = Sdk(plain.endpoint, key, https_server.database_url)
    role = "tls-instance-role"
    create_role(sdk, role)
    sdk.tea_ram().attach_policy_to_role(
        ram_models.AttachPolicyToRoleRequest(
            policy_type="System", policy_name="AliyunECSReadOnlyAccess", role_name=role
        )
    )
    (instance,) = run_instances(sdk, 1)
    attach(sdk, role, [instance], policy=allow(["ecs:DescribeInstances"]))

    credential = Credentials(
        CredentialsConfig(type="ecs_ram_role", proxy=f"https://{instance}:@{https_server.endpoint}")
    )
    fetched = credential.get_credential()
    assert fetched.access_key_id.startswith("STS.") and fetched.security_token
    ecs = Ecs(Config(credential=credential, endpoint=https_server.endpoint, protocol="https", region_id=REGION, ca=ca))
    assert ecs.describe_instances(ecs_models.DescribeInstancesRequest(region_id=REGION)).body.total_count == 1


def test_a_metadata_listener_on_the_api_port_number_is_refused_with_tls(
    database_factory: Callable[[], str], tmp_path: Path
) -> None:
    """Listeners are told apart from the API socket by port; sharing one would drop the API's TLS."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _ecsram(
        "serve",
        "--port",
        str(port),
        "--database",
        database_factory(),
        "--tls",
        "--tls-dir",
        str(tmp_path / "tls"),
        "--metadata-listen",
        f"127.0.0.2:{port}",
    )
    assert result.returncode != 0
    assert "cannot share the API's port number" in result.stderr and "Traceback" not in result.stderr
