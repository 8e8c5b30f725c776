"""The ``ecsram`` command line."""

from __future__ import annotations

import logging
import time
from typing import Any

import click

from ecsram import __version__
from ecsram.config import DEFAULT_HOST, DEFAULT_PORT, MAX_CONNECTIONS, REQUEST_TIMEOUT_SECONDS, Settings
from ecsram.store import accounts
from ecsram.store.database import Database, DatabaseUnavailable, DatabaseUnusable, describe_url

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
) -> None:
    """Run the API server (ECS, RAM, STS on one endpoint) and the instance metadata service."""
    from ecsram.bootstrap import StartupRefused
    from ecsram.config import parse_metadata_listener
    from ecsram.server import serve as run_server
    from ecsram.tls import TlsSetupError

    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("give both --tls-cert and --tls-key (ECSRAM_TLS_CERT, ECSRAM_TLS_KEY), or neither")

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
    )
    try:
        run_server(settings)
    except (StartupRefused, TlsSetupError, DatabaseUnusable) as exc:
        raise click.ClickException(str(exc)) from None
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
