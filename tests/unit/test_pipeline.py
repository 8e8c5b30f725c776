"""The request path's steps (read, validate) and ``Gateway.handle_many`` over a real SQLite store.

The gateway runs a tiny registry of operations declared here, whose handlers write to the
store's settings table, so what a batch committed can be read back afterwards.
"""

from __future__ import annotations

import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import pytest

from ecsram.clock import Clock
from ecsram.contract.call import Call, HttpRequest
from ecsram.contract.catalogue.params import Integer, String
from ecsram.contract.errors import ApiError
from ecsram.contract.operation import Registry, operation
from ecsram.gateway.pipeline import Gateway, read, validate
from ecsram.iam.tokens import TokenAuthority
from ecsram.responses import JSON_CONTENT_TYPE, XML_CONTENT_TYPE, Response
from ecsram.store import accounts
from ecsram.store import settings as stored
from ecsram.store.database import Database, DatabaseUnavailable, Tx
from tests.support.offline import OfflineClient, http_request
from tests.support.principals import add_user_key

ECS = "2014-05-26"


# --- read --------------------------------------------------------------------------------------


def _read(http: HttpRequest) -> Call:
    call = Call(request_id="unit", http=http, tokens=TokenAuthority(b"unused"))
    read(call)
    return call


def _read_error(http: HttpRequest) -> ApiError:
    with pytest.raises(ApiError) as caught:
        _read(http)
    return caught.value


def test_read_v1_takes_action_and_version_from_the_parameters() -> None:
    call = _read(http_request("GET", "/?Action=DescribeRegions&Version=2014-05-26&RegionId=cn-hangzhou"))
    assert not call.v3
    assert (call.action, call.version) == ("DescribeRegions", ECS)
    assert call.raw_params == {"Action": "DescribeRegions", "Version": ECS, "RegionId": "cn-hangzhou"}
    assert call.xml is False


def test_read_v1_ignores_the_v3_headers() -> None:
    headers = {"x-acs-action": "RunInstances", "x-acs-version": "2099-01-01", "authorization": "Bearer abc"}
    call = _read(http_request("GET", "/?Action=DescribeRegions&Version=2014-05-26", headers=headers))
    assert not call.v3
    assert (call.action, call.version) == ("DescribeRegions", ECS)


def test_read_v1_without_action_or_version_leaves_them_unset() -> None:
    call = _read(http_request("GET", "/?RegionId=x"))
    assert (call.action, call.version) == (None, None)


def test_read_detects_v3_by_the_authorization_header() -> None:
    headers = {
        "authorization": "ACS3-HMAC-SHA256 Credential=x",
        "x-acs-action": "DescribeRegions",
        "x-acs-version": ECS,
    }
    call = _read(http_request("POST", "/?Action=Ignored&Version=ignored", headers=headers))
    assert call.v3
    assert (call.action, call.version) == ("DescribeRegions", ECS)


def test_read_v3_falls_back_to_the_parameters() -> None:
    headers = {"authorization": "ACS3-HMAC-SHA256 Credential=x"}
    call = _read(http_request("POST", "/?Action=DescribeRegions&Version=2014-05-26", headers=headers))
    assert call.v3
    assert (call.action, call.version) == ("DescribeRegions", ECS)


@pytest.mark.parametrize(
    ("query", "xml"),
    [
        ("Format=XML", True),
        ("Format=xml", True),
        ("Format=JSON", False),
        ("Format=", False),
        ("", False),
        ("Format=XMLX", False),
    ],
)
def test_read_format(query: str, xml: bool) -> None:
    assert _read(http_request("GET", f"/?Action=A&Version=V&{query}")).xml is xml


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "TRACE"])
def test_read_refuses_other_http_methods(method: str) -> None:
    err = _read_error(http_request(method, "/?Action=DescribeRegions&Version=2014-05-26"))
    assert (err.code, err.status) == ("UnsupportedHTTPMethod", 403)
    assert err.message == f"Specified HTTP method {method} is not supported."


def test_read_cuts_a_long_method_short_in_the_message() -> None:
    err = _read_error(http_request("X" * 100, "/"))
    assert f"method {'X' * 16} is" in err.message


def test_read_refuses_a_parameter_given_twice_in_the_query() -> None:
    err = _read_error(http_request("GET", "/?Action=A&Version=V&RegionId=a&RegionId=b"))
    assert (err.code, err.status) == ("InvalidParameter", 400)
    assert '"RegionId"' in err.message


def test_read_refuses_a_parameter_given_in_both_query_and_form_body() -> None:
    http = http_request(
        "POST",
        "/?Action=A&Version=V",
        b"Version=W",
        {"content-type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    err = _read_error(http)
    assert err.code == "InvalidParameter"
    assert '"Version"' in err.message


def test_read_merges_a_form_body_and_keeps_blank_values() -> None:
    http = http_request(
        "POST",
        "/?Action=A",
        b"Version=V&SignatureType=&Name=a+b%21",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    call = _read(http)
    assert call.raw_params == {"Action": "A", "Version": "V", "SignatureType": "", "Name": "a b!"}
    assert call.query_pairs == [("Action", "A")]


def test_read_ignores_a_body_that_is_not_a_form() -> None:
    http = http_request("POST", "/?Action=A&Version=V", b"Version=W", {"content-type": "application/json"})
    assert _read(http).raw_params == {"Action": "A", "Version": "V"}


# --- validate ----------------------------------------------------------------------------------


def _validated(raw: dict[str, str]) -> dict[str, Any]:
    op = operation(
        "ecs",
        "UnitValidate",
        lambda _call: {},
        params=(String("Name", required=True, max_length=5), Integer("Count", default=3, maximum=9)),
    )
    call = Call(
        request_id="unit", http=http_request("GET"), tokens=TokenAuthority(b"unused"), raw_params=raw, operation=op
    )
    validate(call)
    return call.args


def test_validate_fills_args_with_typed_values_and_defaults() -> None:
    assert _validated({"Name": "abc", "Count": "7", "Other": "ignored"}) == {"Name": "abc", "Count": 7}
    assert _validated({"Name": "abc"}) == {"Name": "abc", "Count": 3}


@pytest.mark.parametrize(
    ("raw", "code", "name"),
    [
        ({}, "MissingParameter", "Name"),
        ({"Name": ""}, "MissingParameter", "Name"),
        ({"Name": "abcdef"}, "InvalidParameter", "Name"),
        ({"Name": "a", "Count": "10"}, "InvalidParameter", "Count"),
        ({"Name": "a", "Count": "x"}, "InvalidParameter", "Count"),
    ],
)
def test_validate_refuses_bad_parameters(raw: dict[str, str], code: str, name: str) -> None:
    with pytest.raises(ApiError) as caught:
        _validated(raw)
    assert caught.value.code == code
    assert f'"{name}"' in caught.value.message


def test_validate_uses_the_catalogue_parameters_of_a_catalogued_action() -> None:
    op = operation("ecs", "DescribeRegions", lambda _call: {})
    call = Call(
        request_id="unit",
        http=http_request("GET"),
        tokens=TokenAuthority(b"unused"),
        raw_params={"ResourceType": "instance"},
        operation=op,
    )
    validate(call)
    assert call.args["ResourceType"] == "instance"
    assert call.args["AcceptLanguage"] is None


# --- handle_many over a real store -------------------------------------------------------------


def _put(call: Call) -> dict[str, Any]:
    """Append Value to the setting unit:Key, then do what Then says."""
    key = f"unit:{call.args['Key']}"
    stored.put(call.store, key, (stored.get(call.store, key) or "") + call.args["Value"])
    then = call.args["Then"]
    if then == "fail":
        raise ApiError("Unit.Failed", 409, "The handler refused after writing.")
    if then == "crash":
        raise RuntimeError("a bug in the handler")
    if then == "driver-error":
        raise sqlite3.IntegrityError("the database refused")
    if then == "server-error":  # a statement the server refuses: on PostgreSQL the transaction is aborted
        call.store._connection.execute("SELECT * FROM no_such_table")
    if then == "nul":  # PostgreSQL cannot store NUL in text
        stored.put(call.store, f"{key}:nul", "a\x00b")
    if then == "timeout":  # a statement the database gave up on; the transaction goes on
        raise sqlite3.OperationalError("interrupted")
    if then == "huge-number":  # a value SQLite cannot hold: the driver refuses to bind it
        stored.put(call.store, f"{key}:n", 2**70)  # type: ignore[arg-type]
    if then == "unrenderable":  # JSON rendering refuses integers beyond 64 bits
        return {"Key": call.args["Key"], "Size": 2**70}
    if then == "break-transaction":  # what a lost connection or an I/O error leaves: no transaction
        call.store._connection.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")
    return {"Key": call.args["Key"], "Stored": stored.get(call.store, key)}


REGISTRY = Registry(
    [
        operation(
            "ecs",
            "UnitPut",
            _put,
            params=(String("Key", required=True), String("Value", default="x"), String("Then", default="ok")),
        ),
        operation("ecs", "DescribeRegions", lambda _call: {"Regions": {"Region": [{"RegionId": "cn-unit"}]}}),
    ]
)


class SpiedDatabase:
    """Counts the transactions the gateway opens, and can make the database unavailable."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.transactions = 0
        self.unavailable = False
        self._real = database.transaction
        database.transaction = self._transaction  # type: ignore[method-assign]

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[Tx]:
        self.transactions += 1
        if self.unavailable:
            raise DatabaseUnavailable("unit test: the database is gone")
        with self._real(write=write) as tx:
            yield tx


@pytest.fixture
def spy(database: Database, root_key: accounts.AccessKey) -> SpiedDatabase:
    """Spies from after the account is made; reads by the tests themselves come after their checks."""
    return SpiedDatabase(database)


@pytest.fixture
def gateway(database: Database, spy: SpiedDatabase, tokens: TokenAuthority) -> Gateway:
    return Gateway(database, REGISTRY, Clock(), tokens)


@pytest.fixture
def client(root_key: accounts.AccessKey) -> OfflineClient:
    return OfflineClient(root_key.access_key_id, root_key.secret)


def _put_request(client: OfflineClient, key: str, value: str = "x", then: str = "ok", **options: Any) -> HttpRequest:
    return client.v1_request("UnitPut", {"Key": key, "Value": value, "Then": then}, **options)


def _code(response: Response) -> str | None:
    document = orjson.loads(response.body)
    return document.get("Code")


def _codes(responses: Sequence[Response]) -> list[tuple[int, str | None]]:
    return [(r.status, _code(r)) for r in responses]


def _value(database: Database, key: str) -> str | None:
    with database.transaction(write=False) as tx:
        return stored.get(tx, f"unit:{key}")


def test_a_batch_shares_one_transaction_and_each_request_gets_its_answer(
    gateway: Gateway, spy: SpiedDatabase, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many([_put_request(client, k, v) for k, v in (("a", "1"), ("b", "2"), ("c", "3"))])
    assert spy.transactions == 1
    assert [orjson.loads(r.body)["Stored"] for r in responses] == ["1", "2", "3"]
    assert [r.status for r in responses] == [200, 200, 200]
    assert len({r.request_id for r in responses}) == 3
    assert all(orjson.loads(r.body)["RequestId"] == r.request_id for r in responses)
    assert [_value(database, k) for k in "abc"] == ["1", "2", "3"]


def test_a_handlers_api_error_undoes_only_its_own_writes(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [_put_request(client, "a"), _put_request(client, "b", then="fail"), _put_request(client, "c")]
    )
    assert _codes(responses) == [(200, None), (409, "Unit.Failed"), (200, None)]
    assert orjson.loads(responses[1].body)["Message"] == "The handler refused after writing."
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("x", None, "x")


def test_a_failed_request_undoes_its_writes_to_a_key_a_sibling_wrote_too(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [_put_request(client, "k", "1"), _put_request(client, "k", "2", then="fail"), _put_request(client, "k", "3")]
    )
    assert [r.status for r in responses] == [200, 409, 200]
    assert _value(database, "k") == "13"


def test_an_unexpected_exception_is_internal_error_for_that_request_alone(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [_put_request(client, "a"), _put_request(client, "b", then="crash"), _put_request(client, "c")]
    )
    assert _codes(responses) == [(200, None), (500, "InternalError"), (200, None)]
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("x", None, "x")


def test_a_driver_error_is_internal_error_for_that_request_alone(
    gateway: Gateway, spy: SpiedDatabase, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [_put_request(client, "a"), _put_request(client, "b", then="driver-error"), _put_request(client, "c")]
    )
    assert spy.transactions == 1  # counted before the reads below
    assert _codes(responses) == [(200, None), (500, "InternalError"), (200, None)]
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("x", None, "x")


def test_a_database_that_gave_up_on_one_request_is_503_for_that_request_alone(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many([_put_request(client, "a"), _put_request(client, "b", then="timeout")])
    assert _codes(responses) == [(200, None), (503, "ServiceUnavailable")]
    assert (_value(database, "a"), _value(database, "b")) == ("x", None)


def test_a_value_the_database_cannot_hold_is_that_requests_400(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many([_put_request(client, "a"), _put_request(client, "b", then="huge-number")])
    assert _codes(responses) == [(200, None), (400, "InvalidParameter")]
    assert (_value(database, "a"), _value(database, "b")) == ("x", None)


def test_a_result_that_cannot_be_rendered_is_undone_and_answered_alone(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    http = _put_request(client, "b", then="unrenderable")
    responses = gateway.handle_many([_put_request(client, "a"), http, _put_request(client, "c")])
    assert _codes(responses) == [(200, None), (500, "InternalError"), (200, None)]
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("x", None, "x")
    assert _codes(gateway.handle_many([http])) == [(400, "SignatureNonceUsed")]  # its nonce is spent


def test_a_request_that_breaks_the_transaction_is_503_and_the_others_run_again_without_it(
    gateway: Gateway, spy: SpiedDatabase, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [_put_request(client, "a", "1"), _put_request(client, "b", then="break-transaction"), _put_request(client, "c")]
    )
    assert spy.transactions == 2  # counted before the reads below
    assert _codes(responses) == [(200, None), (503, "ServiceUnavailable"), (200, None)]
    assert orjson.loads(responses[0].body)["Stored"] == "1"  # the second run's answer, not the first's
    assert (_value(database, "a"), _value(database, "b"), _value(database, "c")) == ("1", None, "x")


def test_requests_that_break_transaction_after_transaction_are_503_for_the_whole_batch(
    gateway: Gateway, spy: SpiedDatabase, database: Database, client: OfflineClient
) -> None:
    breakers = [_put_request(client, f"b{n}", then="break-transaction") for n in range(3)]
    responses = gateway.handle_many([_put_request(client, "a"), *breakers])
    assert spy.transactions == 3  # counted before the reads below
    assert _codes(responses) == [(503, "ServiceUnavailable")] * 4
    assert _value(database, "a") is None


def test_a_nonce_replayed_inside_one_batch_is_caught(
    gateway: Gateway, database: Database, client: OfflineClient
) -> None:
    http = _put_request(client, "r", "1")
    responses = gateway.handle_many([http, http])
    assert _codes(responses) == [(200, None), (400, "SignatureNonceUsed")]
    assert _value(database, "r") == "1"


def test_a_replay_in_a_later_batch_is_caught(gateway: Gateway, database: Database, client: OfflineClient) -> None:
    http = _put_request(client, "r", "1")
    assert gateway.handle_many([http])[0].status == 200
    assert _codes(gateway.handle_many([http])) == [(400, "SignatureNonceUsed")]
    assert _value(database, "r") == "1"


@pytest.mark.parametrize("then", ["fail", "crash"])
def test_a_failed_request_keeps_its_nonce(
    gateway: Gateway, database: Database, client: OfflineClient, then: str
) -> None:
    http = _put_request(client, "f", then=then)
    assert gateway.handle_many([http])[0].status in (409, 500)
    assert _codes(gateway.handle_many([http])) == [(400, "SignatureNonceUsed")]


def test_a_request_with_invalid_parameters_keeps_its_nonce(gateway: Gateway, client: OfflineClient) -> None:
    http = client.v1_request("UnitPut", {"Value": "1"})
    assert _codes(gateway.handle_many([http])) == [(400, "MissingParameter")]
    assert _codes(gateway.handle_many([http])) == [(400, "SignatureNonceUsed")]


def test_a_badly_signed_request_in_a_batch_fails_alone(
    gateway: Gateway, database: Database, root_key: accounts.AccessKey, client: OfflineClient
) -> None:
    forged = OfflineClient(root_key.access_key_id, "WrongSecret0123456789")
    responses = gateway.handle_many([_put_request(forged, "a"), _put_request(client, "b")])
    assert _codes(responses) == [(400, "SignatureDoesNotMatch"), (200, None)]
    assert (_value(database, "a"), _value(database, "b")) == (None, "x")


def test_unknown_actions_and_versions_never_open_a_transaction(
    gateway: Gateway, spy: SpiedDatabase, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [
            client.v1_request("MakeCoffee"),
            client.v1_request("UnitPut", version="2099-01-01"),
            client.v1_request("RunInstances"),
            http_request("GET", "/?Version=2014-05-26"),
            http_request("PUT", "/?Action=UnitPut&Version=2014-05-26"),
            http_request("GET", "/?Action=UnitPut&Action=UnitPut&Version=2014-05-26"),
        ]
    )
    assert _codes(responses) == [
        (404, "InvalidAction.NotFound"),
        (400, "InvalidVersion"),
        (400, "UnsupportedOperation"),
        (400, "MissingParameter"),
        (403, "UnsupportedHTTPMethod"),
        (400, "InvalidParameter"),
    ]
    assert spy.transactions == 0


def test_refused_requests_stay_out_of_the_transaction_of_their_batch(
    gateway: Gateway, spy: SpiedDatabase, database: Database, client: OfflineClient
) -> None:
    responses = gateway.handle_many(
        [client.v1_request("MakeCoffee"), _put_request(client, "a"), client.v1_request("UnitPut", version="1999-01-01")]
    )
    assert _codes(responses) == [(404, "InvalidAction.NotFound"), (200, None), (400, "InvalidVersion")]
    assert spy.transactions == 1
    assert _value(database, "a") == "x"


def test_an_unavailable_database_is_503_for_the_batch_but_not_for_refused_requests(
    gateway: Gateway, spy: SpiedDatabase, client: OfflineClient
) -> None:
    spy.unavailable = True
    responses = gateway.handle_many(
        [_put_request(client, "a"), client.v1_request("MakeCoffee"), _put_request(client, "b")]
    )
    assert _codes(responses) == [
        (503, "ServiceUnavailable"),
        (404, "InvalidAction.NotFound"),
        (503, "ServiceUnavailable"),
    ]


def test_v3_requests_batch_with_v1_requests(gateway: Gateway, database: Database, client: OfflineClient) -> None:
    responses = gateway.handle_many(
        [client.v3_request("UnitPut", {"Key": "v3", "Value": "3"}), _put_request(client, "v1", "1")]
    )
    assert [r.status for r in responses] == [200, 200]
    assert (_value(database, "v3"), _value(database, "v1")) == ("3", "1")


def test_xml_rendering_of_success_and_error(gateway: Gateway, client: OfflineClient) -> None:
    ok, failed = gateway.handle_many(
        [client.v1_request("DescribeRegions", {"Format": "XML"}), client.v1_request("MakeCoffee", {"Format": "XML"})]
    )
    assert (ok.status, ok.content_type) == (200, XML_CONTENT_TYPE)
    root = ET.fromstring(ok.body)
    assert root.tag == "DescribeRegionsResponse"
    assert root.findtext("RequestId") == ok.request_id
    assert root.findtext("Regions/Region/RegionId") == "cn-unit"
    assert (failed.status, failed.content_type) == (404, XML_CONTENT_TYPE)
    assert ET.fromstring(failed.body).findtext("Code") == "InvalidAction.NotFound"


def test_json_is_the_default_format(gateway: Gateway, client: OfflineClient) -> None:
    (response,) = gateway.handle_many([client.v1_request("DescribeRegions")])
    assert response.content_type == JSON_CONTENT_TYPE
    assert orjson.loads(response.body)["Regions"] == {"Region": [{"RegionId": "cn-unit"}]}


def test_a_ram_user_without_policies_is_denied_before_the_handler_runs(
    gateway: Gateway, database: Database, root_key: accounts.AccessKey
) -> None:
    key = add_user_key(database, root_key)
    (response,) = gateway.handle_many([_put_request(OfflineClient(key.access_key_id, key.secret), "u")])
    assert (response.status, _code(response)) == (403, "Forbidden.RAM")
    assert orjson.loads(response.body)["AccessDeniedDetail"]["AuthAction"] == "ecs:UnitPut"
    assert _value(database, "u") is None


def test_an_empty_batch_answers_nothing(gateway: Gateway, spy: SpiedDatabase) -> None:
    assert gateway.handle_many([]) == []
    assert spy.transactions == 0


def test_on_postgresql_a_failed_statement_is_undone_alone_and_the_batch_commits(tokens: TokenAuthority) -> None:
    """PostgreSQL aborts the whole transaction at a failed statement; rolling back to the request's
    savepoint makes it usable again, so only that request fails."""
    from tests.support.databases import drop_all, fresh_postgres_database

    url = fresh_postgres_database()
    database = Database(url)
    try:
        database.migrate()
        with database.transaction() as tx:
            key = accounts.create_account(tx, 0.0)
        client = OfflineClient(key.access_key_id, key.secret)
        gateway = Gateway(database, REGISTRY, Clock(), tokens)
        responses = gateway.handle_many(
            [
                _put_request(client, "a"),
                _put_request(client, "b", then="server-error"),
                _put_request(client, "c", then="nul"),
                _put_request(client, "d", then="driver-error"),
                _put_request(client, "e"),
            ]
        )
        assert _codes(responses) == [
            (200, None),
            (500, "InternalError"),
            (400, "InvalidParameter"),
            (500, "InternalError"),
            (200, None),
        ]
        assert [_value(database, k) for k in "abcde"] == ["x", None, None, None, "x"]
    finally:
        database.close()
        drop_all([url])
