"""The ``ecsram`` command line."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ecsram import __version__
from ecsram.admin.seedfile import SeedError
from ecsram.config import (
    DB_TIMEOUT_MAX_SECONDS,
    DB_TIMEOUT_MIN_SECONDS,
    DB_TIMEOUT_SECONDS,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TRAIL_RETENTION,
    LOG_FORMATS,
    LOG_LEVELS,
    MAX_CONNECTIONS,
    REQUEST_TIMEOUT_SECONDS,
    Settings,
)
from ecsram.store import accounts
from ecsram.store.database import Database, DatabaseUnavailable, DatabaseUnusable, describe_url, is_in_memory
from ecsram.store.sql import Tx

database_option = click.option(
    "--database",
    "database_url",
    envvar="ECSRAM_DATABASE_URL",
    default="",
    show_envvar=True,
    help="Database URL: sqlite:///PATH or postgresql://USER@HOST/DB (default: SQLite in the user data directory).",
)


tls_dir_option = click.option(
    "--tls-dir",
    envvar="ECSRAM_TLS_DIR",
    default="",
    show_envvar=True,
    metavar="DIR",
    help="Where the local CA and the server certificate it signs are kept (default: tls/ in the user data directory).",
)


def _settings(**values: Any) -> Settings:
    try:
        return Settings(**values)
    except ValueError as exc:  # e.g. a database URL of an unsupported kind
        raise click.BadParameter(str(exc), param_hint="--database") from None


def _database(database_url: str) -> Database:
    """The store a command works on; only the default one's directory is created when missing."""
    settings = _settings(database_url=database_url)
    try:
        return Database(settings.database_url, create_directory=settings.uses_default_database)
    except DatabaseUnusable as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
@click.version_option(__version__, prog_name="ecsram")
def main() -> None:
    """ecsram: a local emulator of Alibaba Cloud's instance RAM role system."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _listener_list(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Flags repeat; the environment variable holds the listeners comma- (or space-) separated."""
    return tuple(item.strip() for value in values for item in value.split(",") if item.strip())


@main.command()
@click.option(
    "--host",
    default=DEFAULT_HOST,
    show_default=True,
    envvar="ECSRAM_HOST",
    show_envvar=True,
    help="Address to listen on (beyond loopback only with your own root keys, see docs/configuration.md).",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    envvar="ECSRAM_PORT",
    show_envvar=True,
    help="Port to listen on; 0 picks a free one (the first banner line names it).",
)
@database_option
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="ECSRAM_WORKERS",
    show_envvar=True,
    help="Worker processes sharing the socket (all state is in the database).",
)
@click.option(
    "--test-clock",
    is_flag=True,
    envvar="ECSRAM_TEST_CLOCK",
    show_envvar=True,
    help="Let POST /_ecsram/clock?advance=SECONDS move the service clock (loopback only; for tests).",
)
@click.option(
    "--metadata-listen",
    "metadata_listeners",
    multiple=True,
    metavar="[INSTANCE_ID@]HOST:PORT",
    envvar="ECSRAM_METADATA_LISTENERS",
    show_envvar=True,
    callback=_listener_list,
    help="Also serve the instance metadata service on this address; with INSTANCE_ID@ it answers as that "
    "instance. Repeatable; in the environment, comma-separated.",
)
@click.option(
    "--tls",
    is_flag=True,
    envvar="ECSRAM_TLS",
    show_envvar=True,
    help="Serve the API over HTTPS, with a certificate for localhost, 127.0.0.1 and ::1 signed by a local CA "
    "that ecsram creates once (the banner prints its path). Metadata listeners stay plain HTTP.",
)
@tls_dir_option
@click.option(
    "--tls-cert",
    envvar="ECSRAM_TLS_CERT",
    default="",
    show_envvar=True,
    metavar="FILE",
    help="Serve HTTPS with this PEM certificate (chain) instead of the local CA's; needs --tls-key; implies --tls.",
)
@click.option(
    "--tls-key",
    envvar="ECSRAM_TLS_KEY",
    default="",
    show_envvar=True,
    metavar="FILE",
    help="The PEM private key of --tls-cert (unencrypted).",
)
@click.option(
    "--request-timeout",
    default=REQUEST_TIMEOUT_SECONDS,
    show_default=True,
    type=click.FloatRange(0, 3600, min_open=True),
    envvar="ECSRAM_REQUEST_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="How long a client has to send a whole request (line, headers, body); then 408 and the connection closes.",
)
@click.option(
    "--max-connections",
    default=MAX_CONNECTIONS,
    show_default=True,
    type=click.IntRange(1, 100000),
    envvar="ECSRAM_MAX_CONNECTIONS",
    show_envvar=True,
    help="Open connections per worker process; requests beyond it are answered 503 at once.",
)
@click.option(
    "--db-timeout",
    default=DB_TIMEOUT_SECONDS,
    show_default=True,
    type=click.FloatRange(DB_TIMEOUT_MIN_SECONDS, DB_TIMEOUT_MAX_SECONDS),
    envvar="ECSRAM_DB_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help="The most one database transaction may take; a call that takes longer is broken and answered 503, "
    "and calls are refused at once until the database answers again.",
)
@click.option(
    "--seed",
    "seed_file",
    default="",
    envvar="ECSRAM_SEED",
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="Apply this seed file (YAML or JSON) at start; idempotent, and a reset restores it.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    envvar="ECSRAM_LOG_LEVEL",
    show_envvar=True,
    type=click.Choice(LOG_LEVELS),
    help="info (or debug) adds one line per API call to the log.",
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    envvar="ECSRAM_LOG_FORMAT",
    show_envvar=True,
    type=click.Choice(LOG_FORMATS),
    help="text: space-separated fields; json: one JSON object per line.",
)
@click.option(
    "--log-file",
    default="",
    envvar="ECSRAM_LOG_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="Append the log to this file (default: standard error).",
)
@click.option(
    "--throttle",
    default="",
    envvar="ECSRAM_THROTTLE",
    show_envvar=True,
    metavar="RATE",
    help="Answer Throttling.User beyond RATE calls per AccessKey and action, e.g. 10/s or 600/m "
    "(a token bucket in the store, shared by all workers; see docs/faults.md).",
)
@click.option(
    "--trail/--no-trail",
    default=True,
    show_default=True,
    envvar="ECSRAM_TRAIL",
    show_envvar=True,
    help="Record every API call in the audit trail (ActionTrail LookupEvents, ecsram trail; docs/trail.md).",
)
@click.option(
    "--trail-retention",
    default=DEFAULT_TRAIL_RETENTION,
    show_default=True,
    envvar="ECSRAM_TRAIL_RETENTION",
    show_envvar=True,
    help="How much trail to keep: an age (7d, 12h), a number of events (1000000), or both (7d,1000000).",
)
@click.option(
    "--console-login",
    is_flag=True,
    envvar="ECSRAM_CONSOLE_LOGIN",
    show_envvar=True,
    help="Ask for a root AccessKey login in the web console even on a loopback-only server "
    "(beyond loopback it always does; docs/console.md).",
)
def serve(
    host: str,
    port: int,
    database_url: str,
    workers: int,
    test_clock: bool,
    metadata_listeners: tuple[str, ...],
    tls: bool,
    tls_dir: str,
    tls_cert: str,
    tls_key: str,
    request_timeout: float,
    max_connections: int,
    db_timeout: float,
    seed_file: str,
    log_level: str,
    log_format: str,
    log_file: str,
    throttle: str,
    trail: bool,
    trail_retention: str,
    console_login: bool,
) -> None:
    """Run the API server (ECS, RAM, STS on one endpoint) and the instance metadata service."""
    from ecsram.bootstrap import StartupRefused
    from ecsram.config import parse_metadata_listener, parse_retention
    from ecsram.server import serve as run_server
    from ecsram.tls import TlsSetupError

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("give both --tls-cert and --tls-key (ECSRAM_TLS_CERT, ECSRAM_TLS_KEY), or neither")

    if throttle:
        from ecsram.faults.throttle import parse_rate

        try:
            parse_rate(throttle)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--throttle") from None
    try:
        parse_retention(trail_retention)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--trail-retention") from None
    for listener in metadata_listeners:
        try:
            parse_metadata_listener(listener)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--metadata-listen") from None
    settings = _settings(
        host=host,
        port=port,
        database_url=database_url,
        workers=workers,
        test_clock=test_clock,
        metadata_listeners=metadata_listeners,
        tls=tls or bool(tls_cert),
        tls_dir=tls_dir,
        tls_cert=tls_cert,
        tls_key=tls_key,
        request_timeout=request_timeout,
        max_connections=max_connections,
        db_timeout=db_timeout,
        seed_file=str(Path(seed_file).resolve()) if seed_file else "",
        log_level=log_level,
        log_format=log_format,
        log_file=str(Path(log_file).resolve()) if log_file else "",
        throttle=throttle,
        trail=trail,
        trail_retention=trail_retention,
        console_login=console_login,
    )
    try:
        run_server(settings)
    except (StartupRefused, TlsSetupError, DatabaseUnusable) as exc:
        raise click.ClickException(str(exc)) from None
    except SeedError as exc:
        raise click.ClickException(f"seed not applied: {exc}") from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(f"database unavailable: {exc}") from None
    except OSError as exc:  # listening errors are StartupRefused; this is the file system's
        raise click.ClickException(f"cannot start: {exc}") from None


@main.command()
@database_option
def migrate(database_url: str) -> None:
    """Bring the database schema up to date (serve does this too)."""
    database = _database(database_url)
    try:
        database.migrate()
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()
    click.echo(f"schema up to date: {describe_url(database.url)}")


@main.group()
def account() -> None:
    """Manage accounts (works on the store directly, with or without a running server)."""


@account.command("create")
@click.option("--account-id", default=None, help="16 digits; generated if omitted.")
@click.option("--access-key-id", default=None, help="Root AccessKeyId; generated if omitted.")
@click.option("--access-key-secret", default=None, help="Root AccessKeySecret; generated if omitted.")
@database_option
def account_create(
    account_id: str | None, access_key_id: str | None, access_key_secret: str | None, database_url: str
) -> None:
    """Create an account with its own root AccessKey, and print it."""
    if bool(access_key_id) != bool(access_key_secret):
        raise click.UsageError("give both --access-key-id and --access-key-secret, or neither")
    from ecsram.bootstrap import prepare_store

    database = _database(database_url)
    try:
        prepare_store(database)
        with database.transaction() as tx:
            key = accounts.create_account(
                tx,
                time.time(),
                account_id=account_id,
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
            )
    except accounts.AccountConflict as exc:
        raise click.ClickException(str(exc)) from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()
    click.echo(f"AccountId:       {key.account_id}")
    click.echo(f"AccessKeyId:     {key.access_key_id}")
    click.echo(f"AccessKeySecret: {key.secret}")


@main.command("metadata-secret")
@click.option("--instance-id", required=True, help="The instance whose metadata access secret to print.")
@database_option
def metadata_secret(instance_id: str, database_url: str) -> None:
    """Print an instance's metadata access secret (needed when ecsram listens beyond loopback)."""
    from ecsram.iam.tokens import TokenAuthority
    from ecsram.store import instances
    from ecsram.store import settings as stored_settings

    database = _database(database_url)
    try:
        database.migrate()
        with database.transaction() as tx:
            if instances.get_any(tx, instance_id) is None:
                raise click.ClickException(f"no instance {instance_id} in {describe_url(database.url)}")
            tokens = TokenAuthority(stored_settings.ensure_token_secret(tx))
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()
    click.echo(tokens.instance_secret(instance_id))


@main.group()
def tls() -> None:
    """The local CA behind ``serve --tls``."""


@tls.command("ca-path")
@tls_dir_option
def tls_ca_path(tls_dir: str) -> None:
    """Print the local CA certificate's path (creating the CA if needed), e.g. for SSL_CERT_FILE."""
    from ecsram.tls import TlsSetupError, ensure_ca
    from ecsram.tls import tls_dir as resolve_tls_dir

    try:
        click.echo(ensure_ca(resolve_tls_dir(tls_dir)))
    except TlsSetupError as exc:
        raise click.ClickException(str(exc)) from None


# --- reset, state, seed: on the store directly ------------------------------------------------


def _open_store(database_url: str) -> Database:
    """The store at URL, migrated and with its first account (as a server would prepare it)."""
    from ecsram.bootstrap import StartupRefused, prepare_store

    url = _settings(database_url=database_url).database_url
    if is_in_memory(url):
        raise click.UsageError(
            "an in-memory database exists only inside the server that holds it: "
            "use that server's POST /_ecsram/reset and GET /_ecsram/state instead",
            ctx=click.get_current_context(),
        )
    database = Database(url)
    try:
        prepare_store(database)
    except (DatabaseUnavailable, StartupRefused) as exc:
        database.close()
        raise click.ClickException(str(exc)) from None
    return database


@contextmanager
def _store_transaction(database_url: str, *, write: bool = True) -> Iterator[Tx]:
    """One transaction on the store at URL; an outage is a clear command-line error."""
    database = _open_store(database_url)
    try:
        with database.transaction(write=write) as tx:
            yield tx
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()


account_filter = click.option(
    "--account", "account_id", default=None, metavar="ID", help="Only this account (16 digits); default: every account."
)


@main.command()
@account_filter
@click.option("--forget-seed", is_flag=True, help="Also stop restoring seeded resources (now and on later resets).")
@database_option
def reset(account_id: str | None, forget_seed: bool, database_url: str) -> None:
    """Delete every resource (users, groups, policies, roles, instances) of every account, or of one.

    Accounts and their root AccessKeys remain, and what seed files declared is restored. Works
    with or without a running server (it changes the store directly)."""
    from ecsram.admin import world
    from ecsram.store.accounts import ACCOUNT_ID

    if account_id is not None and not ACCOUNT_ID.fullmatch(account_id):
        raise click.BadParameter(f"{account_id!r} is not an account ID (16 digits)", param_hint="--account")
    database = _open_store(database_url)
    try:
        with database.transaction() as tx:
            result = world.reset(tx, time.time(), account_id, forget_seed=forget_seed)
    except world.UnknownAccount as exc:
        raise click.ClickException(f"{exc} in {describe_url(database.url)}; nothing was changed") from None
    except (DatabaseUnavailable, SeedError) as exc:
        raise click.ClickException(f"reset undone: {exc}") from None
    finally:
        database.close()
    restored = result["seedRestored"]
    summary = ", ".join(f"{what}: {count}" for what, count in sorted(restored.items())) or "nothing"
    click.echo(f"reset {len(result['accounts'])} account(s): {', '.join(result['accounts'])}")
    click.echo(f"restored from seeds: {summary}")


@main.command()
@account_filter
@click.option("--format", "output", type=click.Choice(("table", "json")), default="table", show_default=True)
@database_option
def state(account_id: str | None, output: str, database_url: str) -> None:
    """Show the stored world: accounts, users, groups, policies, roles, instances (never secrets)."""
    import orjson

    from ecsram.admin import world

    database = _open_store(database_url)
    try:
        with database.transaction(write=False) as tx:
            document = world.state(tx, account_id)
    except world.UnknownAccount as exc:
        raise click.ClickException(f"{exc} in {describe_url(database.url)}") from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()
    if output == "json":
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
    else:
        click.echo(world.format_table(document))


@main.command()
@click.argument("seed_file", type=click.Path(dir_okay=False))
@database_option
def seed(seed_file: str, database_url: str) -> None:
    """Apply a seed file (YAML or JSON) to the store: idempotent; all of it or, on error, none."""
    from ecsram.bootstrap import seed_store

    database = _open_store(database_url)
    try:
        summary = seed_store(database, seed_file)
    except SeedError as exc:
        raise click.ClickException(f"seed not applied: {exc}") from None
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.close()
    click.echo(f"seeded {describe_url(database.url)} from {seed_file}: {summary}")


# --- fault rules: on the store directly (docs/faults.md) --------------------------------------


@main.group()
def faults() -> None:
    """Fault injection rules: errors, added latency or dropped connections for matching calls.

    The rules live in the store: every worker of a running server applies a change within a
    tenth of a second (this command returns after that)."""


def _settled() -> None:
    from ecsram.faults.injector import SETTLE_SECONDS

    time.sleep(SETTLE_SECONDS)


@faults.command("list")
@account_filter
@click.option("--format", "output", type=click.Choice(("table", "json")), default="table", show_default=True)
@database_option
def faults_list(account_id: str | None, output: str, database_url: str) -> None:
    """Show the rules in force (expired ones are not shown)."""
    import orjson

    from ecsram.faults import rules
    from ecsram.store import faults as stored

    with _store_transaction(database_url, write=False) as tx:
        found = stored.live_rules(tx, time.time())
    shown = [rules.document(rule) for rule in found if account_id is None or rule.account_id == account_id]
    if output == "json":
        click.echo(orjson.dumps({"rules": shown}, option=orjson.OPT_INDENT_2).decode())
        return
    if not shown:
        click.echo("no fault rules")
    for document in shown:
        click.echo("  ".join(f"{name}={value}" for name, value in document.items()))


@faults.command("add")
@click.option("--account", "account", default=None, metavar="ID", help="Only calls of this account (16 digits).")
@click.option("--action", default=None, help="Action name or glob (* and ?), e.g. Attach*; default: every action.")
@click.option("--product", default=None, help="ecs, ram, sts or ecsram.")
@click.option("--instance-id", default=None, help="Only calls that name this instance (InstanceId/InstanceIds).")
@click.option("--effect", type=click.Choice(("error", "latency", "drop")), default="error", show_default=True)
@click.option("--code", default=None, help="The error code, e.g. ServiceUnavailable, Throttling.User.")
@click.option("--status", type=int, default=None, help="The HTTP status (known for common codes).")
@click.option("--message", default=None, help="The error message (default: the vendor's).")
@click.option("--latency-ms", type=int, default=None, help="Milliseconds to add (effect latency).")
@click.option("--probability", type=float, default=None, help="Fault this share of matching calls (0..1).")
@click.option("--count", type=int, default=None, help="Fault the next N matching calls only.")
@click.option("--ttl", "ttl_seconds", type=float, default=None, help="Remove the rule after this many seconds.")
@click.option("--expires-at", default=None, help="Remove the rule at this time (ISO 8601).")
@database_option
def faults_add(database_url: str, **declared: Any) -> None:
    """Add a rule; prints its ID."""
    from ecsram.faults import rules
    from ecsram.store import faults as stored

    try:
        rule = rules.parse({name: value for name, value in declared.items() if value is not None}, time.time())
    except rules.RuleError as exc:
        raise click.BadParameter(exc.message, param_hint=f"--{exc.field.replace('_', '-')}") from None
    with _store_transaction(database_url) as tx:
        stored.prune(tx, time.time())
        stored.insert_rule(tx, rule)
    _settled()
    click.echo(rule.rule_id)


@faults.command("remove")
@click.argument("rule_id")
@database_option
def faults_remove(rule_id: str, database_url: str) -> None:
    """Remove one rule by its ID."""
    from ecsram.faults import rules
    from ecsram.store import faults as stored

    if not rules.is_rule_id(rule_id):
        raise click.BadParameter(f"{rule_id[:64]!r} is not a rule ID (fr-...)", param_hint="RULE_ID")
    with _store_transaction(database_url) as tx:
        removed = stored.delete_rule(tx, rule_id)
    if not removed:
        raise click.ClickException(f"there is no rule {rule_id}")
    _settled()
    click.echo(f"removed {rule_id}")


@faults.command("clear")
@account_filter
@database_option
def faults_clear(account_id: str | None, database_url: str) -> None:
    """Remove every rule (or every rule of one account)."""
    from ecsram.store import faults as stored

    with _store_transaction(database_url) as tx:
        removed = stored.delete_all(tx, account_id)
    _settled()
    click.echo(f"removed {removed} rule(s)")


def _since(text: str, now: float) -> int:
    """``--since``: a duration back from now (``90s``, ``15m``, ``12h``, ``7d``) or an ISO 8601
    time (``2026-11-30T10:00:00Z``); milliseconds since the epoch."""
    from datetime import datetime

    from ecsram.config import parse_duration

    seconds = parse_duration(text)
    if seconds is not None:
        return int((now - seconds) * 1000)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither a duration (15m, 12h, 7d) nor an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{text!r} has no time zone: end it with Z (UTC) or +HH:MM")
    return int(moment.timestamp() * 1000)


def _trail_line(document: dict[str, Any]) -> str:
    import orjson

    def field(value: Any) -> str:
        text = str(value) if value not in (None, "") else "-"
        return text if text.isprintable() and " " not in text and '"' not in text else orjson.dumps(text).decode()

    identity = document.get("userIdentity", {})
    status = document.get("additionalEventData", {}).get("httpStatus", "-")
    return " ".join(
        field(value)
        for value in (
            document.get("eventTime"),
            identity.get("accountId"),
            identity.get("arn"),
            document.get("eventName"),
            status,
            document.get("errorCode"),
            document.get("resourceName"),
            document.get("requestId"),
        )
    )


@main.command()
@account_filter
@click.option(
    "--action", "action_glob", default="*", metavar="GLOB", help="Only events whose name matches (e.g. Attach*)."
)
@click.option(
    "--since",
    default="24h",
    show_default=True,
    metavar="DURATION|ISO",
    help="From this long ago (15m, 12h, 7d) or this time.",
)
@click.option("--follow", is_flag=True, help="Keep watching the store and print new events as they are recorded.")
@click.option("--format", "output", type=click.Choice(("text", "json")), default="text", show_default=True)
@database_option
def trail(account_id: str | None, action_glob: str, since: str, follow: bool, output: str, database_url: str) -> None:
    """Print the audit trail as it was recorded, oldest first: every API call and metadata
    credential fetch.

    Text lines read: time, account, principal, event name, HTTP status, error code (- on success),
    resources, request ID. JSON lines are the events as ActionTrail's LookupEvents returns them."""
    from fnmatch import fnmatchcase

    import orjson

    from ecsram.store import trail as stored_trail
    from ecsram.store.accounts import ACCOUNT_ID

    if account_id is not None and not ACCOUNT_ID.fullmatch(account_id):
        raise click.BadParameter(f"{account_id!r} is not an account ID (16 digits)", param_hint="--account")
    start, after_seq, after = _since(since, time.time()), 0, None
    database = _open_store(database_url)
    try:
        while True:
            with database.transaction(write=False) as tx:
                if account_id is None:  # in the order written
                    found = stored_trail.scan(tx, since=start, after_seq=after_seq)
                else:  # by time, through the account's index
                    found = stored_trail.lookup(
                        tx, account_id, start=start, end=2**62, forward=True, after=after, limit=1000
                    )
            for event in found:
                if fnmatchcase(event.event_name, action_glob):
                    document = event.document()
                    click.echo(orjson.dumps(document).decode() if output == "json" else _trail_line(document))
            if found:
                after_seq, after = found[-1].seq, (found[-1].event_time, found[-1].event_id)
                continue
            if not follow:
                break
            time.sleep(FOLLOW_INTERVAL_SECONDS)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        pass
    finally:
        database.close()


FOLLOW_INTERVAL_SECONDS = 0.5
