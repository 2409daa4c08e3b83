"""The ``ohm`` command line: the front door to a running OHM.

Every command that needs a database uses ``--database-url`` /
``OHM_DATABASE_URL`` or, when neither is given, the embedded PostgreSQL in
``OHM_DATA_DIR``; pending migrations are applied first, as ``ohm serve`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import psycopg
import typer
from rich.console import Console

from ohm import __version__
from ohm.auth import ROLES, Identity, issue_token
from ohm.config import ConfigError, Settings
from ohm.db.migrate import MigrationError, schema_script
from ohm.db.session import Database
from ohm.db.target import DatabaseTarget, DatabaseUnavailable, describe, open_target
from ohm.keys import SCOPES
from ohm.store import demo as demo_store
from ohm.store import users as users_store
from ohm.store.errors import StoreError


def _flags_without_a_type(self: Any, ctx: Any) -> str | None:
    """Help lists a flag's type as ``<bool>`` (typer 0.29); a flag takes no value, so it shows none."""
    return None if getattr(self, "is_flag", False) else _display_type(self, ctx)


_display_type = typer.core.TyperOption.display_type_rich
typer.core.TyperOption.display_type_rich = _flags_without_a_type  # type: ignore[method-assign]

app = typer.Typer(
    name="ohm",
    help="OHM: the conversation store for multi-agent hardware assistants.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
user_app = typer.Typer(help="Manage users (embedded server and self-hosted PostgreSQL).",
                       no_args_is_help=True)
app.add_typer(user_app, name="user")
prices_app = typer.Typer(help="Model prices (USD per million tokens) used to cost messages.", no_args_is_help=True)
app.add_typer(prices_app, name="prices")
parts_app = typer.Typer(help="The shared part library (pin tables for parts the catalogue does not know).",
                        no_args_is_help=True)
app.add_typer(parts_app, name="parts")
activity_app = typer.Typer(help="The activity log.", no_args_is_help=True)
app.add_typer(activity_app, name="activity")
realtime_app = typer.Typer(help="The realtime replay log.", no_args_is_help=True)
app.add_typer(realtime_app, name="realtime")
import_app = typer.Typer(help="Bring conversations in from other assistants' data exports.", no_args_is_help=True)
app.add_typer(import_app, name="import")
keys_app = typer.Typer(help="API keys agents act with (as their user, within scopes and limits).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

out = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however narrow the terminal

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option("--database-url", envvar="OHM_DATABASE_URL", show_envvar=True,
                 help="Owner connection URL. Unset: the embedded PostgreSQL in OHM_DATA_DIR."),
]

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Turn expected failures into one red line and a non-zero exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ConfigError, DatabaseUnavailable, MigrationError, StoreError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        except psycopg.OperationalError as exc:
            err.print(f"[red]error:[/red] database error: {str(exc).strip()}")
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings_for(database_url: str | None, **overrides: Any) -> Settings:
    from pydantic import ValidationError

    values = {k: v for k, v in overrides.items() if v is not None}
    values["database_url"] = database_url
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError("; ".join(_setting_error(e) for e in exc.errors())) from None


def _setting_error(error: Any) -> str:
    """One setting's problem in one line, named as its environment variable (values of secrets left out)."""
    name = "OHM_" + "_".join(str(part) for part in error["loc"]).upper()
    shown = "" if any(w in name for w in ("SECRET", "PASSWORD", "URL")) else f" (got {error['input']!r})"
    return f"{name}: {error['msg']}{shown}"


@contextlib.contextmanager
def embedded_noted(settings: Settings) -> Any:
    """``open_target``, saying on stderr when it created a new embedded database (and where)."""
    with open_target(settings) as target:
        if target.embedded is not None and target.embedded.created:
            err.print(f"[yellow]note:[/yellow] created a new embedded database in {target.embedded.data_dir} "
                      "(OHM_DATA_DIR); ohm commands and servers with another data dir have other users and another "
                      "signing secret", highlight=False)
        yield target


def with_database(settings: Settings, work: Callable[[DatabaseTarget, Database], Any]) -> Any:
    """Open the target (migrating it), run async ``work`` with a pool, clean up."""
    with embedded_noted(settings) as target:
        return _with_pool(settings, target, work)


def _with_pool(settings: Settings, target: DatabaseTarget, work: Callable[[DatabaseTarget, Database], Any]) -> Any:
    async def run() -> Any:
        async with Database(target.app_url, min_size=1, max_size=2,
                            connect_timeout=settings.db_connect_timeout) as db:
            return await work(target, db)

    return asyncio.run(run())


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        out.print(f"ohm {__version__}")
        raise typer.Exit()


@app.command()
@friendly_errors
def serve(
    host: Annotated[str, typer.Option(envvar="OHM_HOST", show_envvar=True,
                                      help="Interface to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="OHM_PORT", show_envvar=True, min=1, max=65535,
                                      help="Port to listen on.")] = 8000,
    database_url: DatabaseUrlOption = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo project if missing and print "
                                       "its chat URL and a token for its owner.")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each with its own pool).")] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs, health at /healthz)."""
    import os

    settings = settings_for(database_url, host=host, port=port)
    secret = settings.resolve_jwt_secret()  # fail before starting anything
    # The port is taken before anything is announced: a busy one is one line, not a URL of another process.
    listener = listen(settings.host, settings.port)
    base = f"http://{settings.host}:{settings.port}"
    # This process migrates (and, embedded, holds the server) for as long as it serves;
    # the app in each worker attaches to the same database.
    with embedded_noted(settings) as target:
        where = "embedded PostgreSQL in " + str(settings.data_dir) if settings.embedded \
            else describe(settings.database_url or "")
        out.print(f"[bold]OHM {__version__}[/bold] on {where}")
        out.print(f"API docs: {base}/docs")
        if demo:
            async def load(target: DatabaseTarget, db: Database) -> Any:
                return await demo_store.load_demo(db)

            found = _with_pool(settings, target, load)
            token_ = issue_token(secret, user_id=found.user_id, email=demo_store.DEMO_EMAIL,
                                 ttl_seconds=7 * 24 * 3600)

            async def link(target: DatabaseTarget, db: Database) -> Any:
                from ohm.store import console as console_store

                return await console_store.create_login_code(db, found.user_id)

            _print_demo(found, token_, base, _with_pool(settings, target, link))
        # Workers read their settings from the environment, like any OHM process.
        for name, value in (("OHM_DATABASE_URL", settings.database_url), ("OHM_DATA_DIR", str(settings.data_dir)),
                            ("OHM_JWT_SECRET", secret)):
            if value:
                os.environ[name] = value
        out.print(f"Listening on {base} (Ctrl+C to stop)", highlight=False)
        _run_uvicorn(settings, workers, access_log, listener)


def listen(host: str, port: int) -> Any:
    """The server's listening socket, or one clear line on why there is none."""
    import errno

    try:
        return tcp_listener(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} is in use (use --port)") from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (check --host and --port)") from None


def _release_large_buffers() -> None:
    """Give buffers of 128 KiB and more back to the system as soon as they are freed (glibc only).

    A server that sends 1 MiB frames to many slow readers allocates and frees many large buffers; glibc
    raises its mmap threshold after the first such free and then serves them from heaps that do not
    shrink, so the process kept ~2x the memory its live objects needed (measured: RSS +267 MB with 100
    slow readers, of which the traced live objects were half).  Fixing the threshold keeps them mmapped."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None or not sys.platform.startswith("linux"):
        return
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))  # worker processes read it at start
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(name).mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def _run_uvicorn(settings: Settings, workers: int, access_log: bool, listener: Any) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    _release_large_buffers()
    config = uvicorn_config(settings, workers=workers, log_level="info", access_log=access_log)
    if workers == 1:
        _stop_offload_workers_on_sigterm()
        uvicorn.Server(config).run(sockets=[listener])
        return
    # uvicorn binds a shared listener without IPPROTO_TCP, so asyncio never sets
    # TCP_NODELAY on accepted connections and every keep-alive response waits ~40 ms
    # for a delayed ACK (Kludex/uvicorn#3149). OHM binds it itself, as TCP.
    Multiprocess(config, sockets=[listener]).run()


def _stop_offload_workers_on_sigterm() -> None:
    """uvicorn ends a SIGTERM'd server by raising the signal again once it has shut down, with the handler it
    found installed: with the default one the process dies at once, skipping exit handlers, and the
    rendering workers' queues are reported as leaked semaphores. This handler stops them first, then ends
    the process by the same signal (exit status 143 in a shell, as before)."""
    import signal

    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def end(signum: int, frame: Any) -> None:
        from ohm import offload

        offload.shutdown(wait=True)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, end)


def uvicorn_config(settings: Settings, app: Any = "ohm.api.app:create_app", **options: Any) -> Any:
    """How `ohm serve` runs uvicorn: the app (an import string naming its factory, or an app) and its settings."""
    import uvicorn

    from ohm.api.http import BoundedHttpToolsProtocol

    # Event streams never finish on their own: without a limit, a stop would wait for every client.
    # Request heads are bounded (ohm.api.http): 64 KiB, 100 headers.
    return uvicorn.Config(app, factory=isinstance(app, str), host=settings.host, port=settings.port,
                          http=BoundedHttpToolsProtocol, ws_per_message_deflate=settings.ws_compression,
                          # uvicorn annotates an int, but waits with asyncio: a float works.
                          timeout_graceful_shutdown=settings.shutdown_timeout,  # type: ignore[arg-type]
                          **options)


def tcp_listener(host: str, port: int) -> Any:
    """A listening TCP socket that worker processes inherit, declared as IPPROTO_TCP."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@app.command()
@friendly_errors
def migrate(database_url: DatabaseUrlOption = None) -> None:
    """Apply pending migrations (a no-op when the schema is current)."""
    settings = settings_for(database_url)
    with embedded_noted(settings) as target:
        report = target.migration_report
    assert report is not None
    for name in report.applied:
        out.print(f"[green]applied[/green] {name}")
    if report.unknown:
        err.print("[yellow]warning:[/yellow] the database has migrations this version of OHM does "
                  f"not know: {', '.join(report.unknown)}")
    if not report.applied:
        out.print(f"up to date ({len(report.already_applied)} migrations applied)")


@app.command("mcp")
@friendly_errors
def mcp_command(
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="OHM_API_KEY", show_envvar=True,
        help="An API key (ohm keys create) or a user's token (ohm token): the tools act as its user.")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Serve OHM's tools over MCP on stdin/stdout, for a desktop host (Claude Desktop, Cursor, ...)."""
    from ohm.auth import InvalidToken, TokenCache

    if not api_key:
        raise ConfigError("ohm mcp acts as someone: set OHM_API_KEY or --api-key (an API key from "
                          "`ohm keys create`, or a user's token from `ohm token`)")
    try:
        from ohm.mcp_server import Access, build
    except ImportError as exc:
        raise ConfigError(str(exc)) from None
    settings = settings_for(database_url)
    secret = settings.resolve_jwt_secret()

    async def work(target: DatabaseTarget, db: Database) -> Any:
        from ohm.api.key_auth import Credentials, KeyVerifier

        credentials = Credentials(TokenCache(secret), KeyVerifier(db))
        try:
            await credentials.verify(api_key)
        except InvalidToken as exc:
            raise ConfigError(f"the credential is not valid for this database: {exc}") from None
        await build(db, Access(credentials.verify, token=api_key)).run_stdio_async()

    with_database(settings, work)


@app.command("sql")
@friendly_errors
def sql_command(
    since: Annotated[str | None, typer.Option(help="Only the migrations after this file name.")] = None,
) -> None:
    """Print the whole schema as one SQL script (e.g. for Supabase's SQL editor)."""
    sys.stdout.write(schema_script(since))


@user_app.command("create")
@friendly_errors
def user_create(
    email: Annotated[str, typer.Argument(help="The new user's email address.")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a user (auth user + profile) and print its id."""
    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await users_store.create_user(db, email, name)

    profile = with_database(settings_for(database_url), work)
    typer.echo(str(profile.id))


def no_user(user: str) -> ConfigError:
    return ConfigError(f"no user {user!r} in this database (create one: ohm user create EMAIL; see them: "
                       "ohm user list)")


@user_app.command("list")
@friendly_errors
def user_list(
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="At most this many, newest first.")] = 100,
    database_url: DatabaseUrlOption = None,
) -> None:
    """The users: email, id, name, messages, cost, since when."""
    from rich.table import Table

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await users_store.list_users(db, limit=limit)

    users = with_database(settings_for(database_url), work)
    if not users:
        out.print("no users yet (create one: ohm user create EMAIL)", highlight=False)
        return
    table = Table("email", "id", "name", "messages", "cost (USD)", "created")
    for p in users:
        table.add_row(p.email or "", str(p.id), p.display_name or "", str(p.message_count), f"{p.total_cost_usd:.4f}",
                      f"{p.created_at:%Y-%m-%d %H:%M}")
    out.print(table)


@user_app.command("show")
@friendly_errors
def user_show(user: Annotated[str, typer.Argument(help="The user (id or email).")],
              database_url: DatabaseUrlOption = None) -> None:
    """One user's profile and totals, as JSON."""
    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await _profile(db, user)

    typer.echo(with_database(settings_for(database_url), work).model_dump_json(indent=2))


@user_app.command("delete")
@friendly_errors
def user_delete(
    user: Annotated[str, typer.Argument(help="The user (id or email).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask first.")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Delete a user with everything they own, and the stored files no one else refers to.

    Chats, messages, artifacts, projects, files, keys and imports go; asks first unless --yes."""
    from ohm.blobs import blob_store_for

    settings = settings_for(database_url)
    blobs = blob_store_for(settings)

    async def find(target: DatabaseTarget, db: Database) -> Any:
        return await users_store.find_user(db, user)

    profile = with_database(settings, find)
    if profile is None:
        raise no_user(user)
    if not yes and not typer.confirm(f"Delete {profile.email or profile.id} and all {profile.message_count} "
                                     "messages, chats, files?"):
        raise typer.Exit(1)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await users_store.delete_user(db, blobs, profile.id)

    deleted = with_database(settings, work)
    out.print(f"[green]deleted[/green] {profile.email or profile.id}: {deleted.chats} chats, {deleted.messages} "
              f"messages, {deleted.projects} projects, {deleted.files} files ({deleted.blobs_removed} stored files "
              "removed)" + ("" if deleted.auth_user_deleted else "; remove the Auth user in Supabase"),
              highlight=False)


@app.command()
@friendly_errors
def token(
    user: Annotated[str | None, typer.Argument(help="User id or email (not needed for service_role).")] = None,
    role: Annotated[str, typer.Option(help="authenticated, service_role or anon.")] = "authenticated",
    ttl: Annotated[str, typer.Option(help="Lifetime: seconds, or 30m, 12h, 7d.")] = "1h",
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print a JWT signed with the configured secret."""
    if role not in ROLES:
        raise ConfigError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    seconds = parse_ttl(ttl)
    settings = settings_for(database_url)
    secret = settings.resolve_jwt_secret()
    user_id = email = None
    if user is not None and role != "authenticated":
        err.print(f"[yellow]note:[/yellow] a {role} token names no user: {user!r} is ignored", highlight=False)
        user = None
    if user is not None:
        async def work(target: DatabaseTarget, db: Database) -> Any:
            return await users_store.find_user(db, user)

        profile = with_database(settings, work)
        if profile is None:
            raise no_user(user)
        user_id, email = profile.id, profile.email
    elif role == "authenticated":
        raise ConfigError("a user token needs a USER (id or email)")
    typer.echo(issue_token(secret, role=role, user_id=user_id, email=email, ttl_seconds=seconds))


@app.command("login-link")
@friendly_errors
def login_link(
    user: Annotated[str, typer.Argument(help="User id or email.")],
    base_url: Annotated[str | None, typer.Option(help="Where the console is served (default: OHM_HOST:OHM_PORT).")]
    = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Print a one-time link that signs USER in to the web console (valid once, for 15 minutes)."""
    from ohm.store import console as console_store

    settings = settings_for(database_url)
    base = (base_url or f"http://{settings.host}:{settings.port}").rstrip("/")

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await console_store.create_login_code(db, (await _profile(db, user)).id)

    typer.echo(f"{base}/sign-in?code={with_database(settings, work)}")


@app.command()
@friendly_errors
def demo(database_url: DatabaseUrlOption = None) -> None:
    """Load the "ESP32 Weather Station" demo and print its chat URL and a token."""
    settings = settings_for(database_url)
    secret = settings.resolve_jwt_secret()

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await demo_store.load_demo(db)

    found = with_database(settings, work)
    token_ = issue_token(secret, user_id=found.user_id, email=demo_store.DEMO_EMAIL,
                         ttl_seconds=7 * 24 * 3600)
    _print_demo(found, token_, f"http://{settings.host}:{settings.port}")


@app.command()
@friendly_errors
def gc(
    database_url: DatabaseUrlOption = None,
    grace: Annotated[str, typer.Option(help="Keep unreferenced blobs younger than this (uploads in flight).")] = "1h",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be removed; remove nothing.")] = False,
) -> None:
    """Remove stored files no upload refers to (left by a crash between storing and registering)."""
    from datetime import timedelta

    from ohm.blobs import blob_store_for
    from ohm.store.attachments import gc as collect

    settings = settings_for(database_url)
    grace_seconds = parse_ttl(grace) if grace.strip() not in ("0", "0s") else 0
    blobs = blob_store_for(settings)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await collect(db, blobs, grace=timedelta(seconds=grace_seconds), dry_run=dry_run)

    report = with_database(settings, work)
    verb = "would remove" if dry_run else "removed"
    out.print(f"{report.blobs} blobs stored; {verb} {len(report.removed)} unreferenced; "
              f"kept {report.kept_young} younger than {grace}")
    for key in report.removed:
        typer.echo(f"  {key}")
    if report.missing:
        err.print(f"[yellow]warning:[/yellow] {len(report.missing)} uploads point at missing blobs:")
        for key in report.missing:
            err.print(f"  {key}")


def parse_when(text: str | None) -> datetime | None:
    """A date or an ISO 8601 moment (UTC when no offset is given)."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"not a date: {text!r} (use YYYY-MM-DD or an ISO 8601 time)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


KICAD_SYMBOLS = Path("/usr/share/kicad/symbols")  # Debian's and Ubuntu's kicad-symbols package


@parts_app.command("import-kicad")
@friendly_errors
def parts_import_kicad(
    directory: Annotated[Path, typer.Argument(help="A folder of .kicad_sym files (KiCad 6 or later).")]
    = KICAD_SYMBOLS,
    library: Annotated[list[str] | None, typer.Option(
        "--library", "-l", help="Only these libraries (file names without .kicad_sym); repeat it.")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Import KiCad symbols' pin names, numbers and electrical types into the shared part library."""
    from ohm.hardware.kicad import KicadError, symbols
    from ohm.store import part_library

    files = sorted(directory.glob("*.kicad_sym")) if directory.is_dir() else []
    if library:
        wanted = {name.removesuffix(".kicad_sym") for name in library}
        missing = sorted(wanted - {f.stem for f in files})
        if missing:
            raise ConfigError(f"no library {', '.join(missing)} in {directory}")
        files = [f for f in files if f.stem in wanted]
    if not files:
        raise ConfigError(f"no .kicad_sym files in {directory} (on Debian or Ubuntu: apt-get install kicad-symbols)")
    found = []
    for path in files:
        try:
            found += symbols(path.read_text(encoding="utf-8"), path.stem)
        except (KicadError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path.name}: {exc}") from None

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await part_library.import_symbols(db, found)

    written = with_database(settings_for(database_url), work)
    out.print(f"imported {written} symbols with their pins from {len(files)} KiCad libraries in {directory}")


@prices_app.command("list")
@friendly_errors
def prices_list(
    database_url: DatabaseUrlOption = None,
    history: Annotated[bool, typer.Option("--history", help="Every price with its start, not just today's.")] = False,
) -> None:
    """The model prices in force (or all of them, with --history)."""
    from rich.table import Table

    from ohm.store import analytics

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await analytics.list_prices(db, Identity.service(), current_only=not history)

    table = Table("model", "provider", "input / Mtok", "output / Mtok", "cached input / Mtok", "valid from")
    for p in with_database(settings_for(database_url), work):
        table.add_row(p.model_id, p.provider, f"{p.input_per_mtok:.4f}", f"{p.output_per_mtok:.4f}",
                      "" if p.cached_input_per_mtok is None else f"{p.cached_input_per_mtok:.4f}",
                      p.valid_from.astimezone(UTC).strftime("%Y-%m-%d %H:%M"))
    out.print(table)


@prices_app.command("set")
@friendly_errors
def prices_set(
    model: Annotated[str, typer.Argument(help="Model id as agents send it, e.g. o1 or openai/o1.")],
    input_price: Annotated[float, typer.Option("--input", min=0, help="USD per million input tokens.")],
    output_price: Annotated[float, typer.Option("--output", min=0, help="USD per million output tokens.")],
    cached: Annotated[float | None, typer.Option("--cached", min=0, help="USD per million cached input tokens.")]
    = None,
    provider: Annotated[str | None, typer.Option(help="Default: the model id's prefix, else 'custom'.")] = None,
    valid_from: Annotated[str | None, typer.Option("--from", help="Valid from (date or time; default now).")]
    = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Add a price from a moment on; messages already written keep the cost they were given."""
    from decimal import Decimal

    from ohm.store import analytics

    model_id = model.split("/")[-1].strip()
    vendor = provider or (model.split("/")[0] if "/" in model else "custom")
    when = parse_when(valid_from)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await analytics.set_price(db, model_id, provider=vendor, input_per_mtok=Decimal(str(input_price)),
                                         output_per_mtok=Decimal(str(output_price)),
                                         cached_input_per_mtok=None if cached is None else Decimal(str(cached)),
                                         valid_from=when)

    price = with_database(settings_for(database_url), work)
    out.print(f"{price.model_id} ({price.provider}): ${price.input_per_mtok} in, ${price.output_per_mtok} out per "
              f"million tokens from {price.valid_from.astimezone(UTC):%Y-%m-%d %H:%M} UTC")


@app.command()
@friendly_errors
def usage(
    user: Annotated[str | None, typer.Argument(help="A user (id or email). Omitted: everyone.")] = None,
    group_by: Annotated[str, typer.Option(help="agent, model, intent, role, day, chat or project.")] = "agent",
    days: Annotated[int, typer.Option(min=1, help="The last N days.")] = 30,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Messages, tokens and cost per agent (model, day, ...) as a table."""
    from rich.table import Table

    from ohm.models import no_key
    from ohm.store import analytics

    end = datetime.now(UTC)
    start = end - timedelta(days=days)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        user_id = None
        if user is not None:
            user_id = (await _profile(db, user)).id
        return await analytics.usage(db, Identity.service(), group_by, start=start, user_id=user_id)

    report = with_database(settings_for(database_url), work)
    table = Table(group_by, "messages", "input tokens", "output tokens", "avg latency", "cost (USD)",
                  title=f"Usage, last {days} days" + (f" — {user}" if user else ""))
    for r in [*report.items, None]:
        row = report.totals if r is None else r
        name = "total" if r is None else (row.label or row.key or no_key(group_by))
        table.add_row(name, str(row.messages), f"{row.input_tokens:,}", f"{row.output_tokens:,}",
                      "" if row.avg_latency_ms is None else f"{row.avg_latency_ms:.0f} ms", f"{row.cost_usd:.4f}",
                      style="bold" if r is None else None, end_section=r is None or r is report.items[-1])
    out.print(table)


async def _profile(db: Database, user: str) -> users_store.Profile:
    """A user named by id or email, or a clear error."""
    profile = await users_store.find_user(db, user)
    if profile is None:
        raise no_user(user)
    return profile


async def _as_user(db: Database, user: str) -> Identity:
    return Identity.user((await _profile(db, user)).id)


UserArgument = Annotated[str, typer.Argument(help="The user (id or email).")]


@keys_app.command("create")
@friendly_errors
def keys_create(
    user: UserArgument,
    name: Annotated[str, typer.Option(help="What the key is for, usually the agent's name (bomGenerator).")],
    scope: Annotated[list[str], typer.Option("--scope", help="A scope; repeat for more (`*`: all a key may do). "
                                             "Scopes: " + ", ".join(SCOPES) + ".")],
    chat: Annotated[str | None, typer.Option(help="Limit the key to this chat (its id).")] = None,
    project: Annotated[str | None, typer.Option(help="Limit the key to this project (its id).")] = None,
    expires: Annotated[str | None, typer.Option(help="Lifetime, e.g. 90d or 12h (default: until revoked).")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Create a key for USER and print its secret (shown this once; only a hash is kept)."""
    from ohm.models import ApiKeyCreate
    from ohm.store import keys as keys_store

    try:
        body = ApiKeyCreate(name=name, scopes=scope, chat_id=chat, project_id=project,
                            expires_at=datetime.now(UTC) + timedelta(seconds=parse_ttl(expires)) if expires else None)
    except ValueError as exc:
        raise ConfigError(f"invalid key: {exc}") from None

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await keys_store.create_key(db, await _as_user(db, user), body)

    created = with_database(settings_for(database_url), work)
    out.print(f"[green]created[/green] {created.prefix} ({created.name}; {', '.join(created.scopes)})", highlight=False)
    out.print("The secret, shown this once (Authorization: Bearer <secret>):", highlight=False)
    typer.echo(created.secret)


@keys_app.command("list")
@friendly_errors
def keys_list(user: UserArgument, database_url: DatabaseUrlOption = None) -> None:
    """USER's keys: prefix, name, scopes, limit, status, last use (never the secrets)."""
    from rich.table import Table

    from ohm.store import keys as keys_store

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await keys_store.list_keys(db, await _as_user(db, user))

    table = Table("id", "prefix", "name", "scopes", "limited to", "status", "expires", "last used")
    for key in with_database(settings_for(database_url), work):
        limit = f"chat {key.chat_id}" if key.chat_id else f"project {key.project_id}" if key.project_id else ""
        table.add_row(str(key.id), key.prefix, key.name, " ".join(key.scopes), limit, key.status,
                      f"{key.expires_at:%Y-%m-%d %H:%M}" if key.expires_at else "",
                      f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never")
    out.print(table)


@keys_app.command("revoke")
@friendly_errors
def keys_revoke(user: UserArgument, key_id: Annotated[str, typer.Argument(help="The key's id (see `ohm keys list`).")],
                database_url: DatabaseUrlOption = None) -> None:
    """Revoke one of USER's keys: refused from its next request on, in every server process."""
    import uuid

    from ohm.store import keys as keys_store

    try:
        parsed = uuid.UUID(key_id)
    except ValueError:
        raise ConfigError(f"not a key id: {key_id!r}") from None

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await keys_store.revoke_key(db, await _as_user(db, user), parsed)

    key = with_database(settings_for(database_url), work)
    out.print(f"[green]revoked[/green] {key.prefix} ({key.name}) at {key.revoked_at:%Y-%m-%d %H:%M:%S}",
              highlight=False)


@app.command()
@friendly_errors
def me(
    user: UserArgument,
    display_name: Annotated[str | None, typer.Option(help="Set the display name.")] = None,
    avatar_url: Annotated[str | None, typer.Option(help="Set the avatar URL (http or https).")] = None,
    preferences: Annotated[str | None, typer.Option(help="Replace the preferences (a JSON object).")] = None,
    database_url: DatabaseUrlOption = None,
) -> None:
    """A user's own account as GET /v1/me shows it (as JSON); with options, change it first (PATCH /v1/me)."""
    import json

    from ohm.models import MeUpdate

    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if avatar_url is not None:
        changes["avatar_url"] = avatar_url
    if preferences is not None:
        try:
            changes["preferences"] = json.loads(preferences)
        except ValueError:
            raise ConfigError("--preferences must be JSON") from None
    try:
        update = MeUpdate(**changes)
    except ValueError as exc:
        raise ConfigError(f"invalid change: {exc}") from None
    settings = settings_for(database_url)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        identity = await _as_user(db, user)
        if changes:
            return await users_store.update_me(db, identity, update, quota_bytes=settings.storage_quota_bytes)
        return await users_store.get_me(db, identity, quota_bytes=settings.storage_quota_bytes)

    typer.echo(with_database(settings, work).model_dump_json(indent=2))


@app.command("export")
@friendly_errors
def export_command(
    user: Annotated[str, typer.Option("--user", help="Whose data (id or email).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zip to write.")],
    database_url: DatabaseUrlOption = None,
) -> None:
    """Everything a user owns as a zip (GET /v1/me/export): a JSON Lines file per table and the uploads' bytes."""
    from ohm.blobs import blob_store_for
    from ohm.store.exports import export_account

    settings = settings_for(database_url)
    blobs = blob_store_for(settings)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await export_account(db, blobs, await _as_user(db, user), output)

    counts = with_database(settings, work)
    out.print(f"[green]wrote[/green] {output}: " + ", ".join(f"{n} {name}" for name, n in counts.items() if n),
              highlight=False)


ExportFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True,
                                             help="The export file.")]
ImportUser = Annotated[str, typer.Option("--user", help="Whose history this is (id or email).")]


@import_app.command("chatgpt")
@friendly_errors
def import_chatgpt(
    file: ExportFile, user: ImportUser,
    keep_tool_output: Annotated[bool, typer.Option(help="Keep tool nodes (code output, browsing).")] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Import ChatGPT's data export (the .zip, or its conversations.json).

    Every conversation becomes a chat, edits and regenerations become branches, and images in the zip
    become attachments of their messages."""
    _import(file, "chatgpt", user, keep_tool_output, database_url)


@import_app.command("claude")
@friendly_errors
def import_claude(file: ExportFile, user: ImportUser, database_url: DatabaseUrlOption = None) -> None:
    """Import Claude's data export (conversations.json): messages, content blocks, attached files' text."""
    _import(file, "claude", user, False, database_url)


@import_app.command("ohm")
@friendly_errors
def import_ohm(file: ExportFile, user: ImportUser, database_url: DatabaseUrlOption = None) -> None:
    """Import an OHM account archive (ohm export, GET /v1/me/export) for USER.

    Chats with every branch, artifacts with every version, projects, uploads, analyses and shares, all
    with new ids."""
    from ohm.blobs import blob_store_for
    from ohm.store.archive_import import import_archive

    settings = settings_for(database_url)
    blobs = blob_store_for(settings)

    async def work(target: DatabaseTarget, db: Database) -> Any:
        identity = await _as_user(db, user)
        assert identity.user_id is not None
        return await import_archive(db, blobs, identity.user_id, file, max_bytes=settings.max_upload_bytes,
                                    quota_bytes=settings.storage_quota_bytes)

    counts = with_database(settings, work)
    out.print("[green]imported[/green] " + ", ".join(f"{n} {name}" for name, n in counts.items()), highlight=False)


def _import(file: Path, source: str, user: str, keep_tool_output: bool, database_url: str | None) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from ohm.blobs import blob_store_for
    from ohm.store import imports as imports_store

    settings = settings_for(database_url)
    blobs = blob_store_for(settings)
    size = file.stat().st_size
    # A zip is read through its conversations.json: progress counts that file's bytes.
    import zipfile

    if zipfile.is_zipfile(file):
        with zipfile.ZipFile(file) as archive:
            size = max((i.file_size for i in archive.infolist() if i.filename.endswith("conversations.json")),
                       default=size)
    progress = Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True))

    async def work(target: DatabaseTarget, db: Database) -> Any:
        profile = await _profile(db, user)
        job = await imports_store.create_job(db, profile.id, source, file.name, file.stat().st_size)
        with progress:
            bar = progress.add_task("import", total=size)
            return await imports_store.run_import(
                db, job.id, profile.id, file, source, keep_tool_output=keep_tool_output,
                files=imports_store.Files(blobs, settings.max_upload_bytes, settings.storage_quota_bytes),
                on_progress=lambda _job, done: progress.update(bar, completed=done))

    job = with_database(settings, work)
    for item in job.report:
        if item.status == "failed":
            out.print(f"[red]failed[/red] conversation {item.position + 1} ({item.source_id}): {item.detail}",
                      highlight=False)
    colour = "red" if job.status == "failed" else "green"
    out.print(f"[{colour}]{job.status}[/{colour}]: {job.conversations} conversations, {job.chats_created} chats "
              f"created, {job.chats_skipped} already imported, {job.chats_failed} failed, {job.messages} messages"
              + (f" — {job.error}" if job.error else ""), highlight=False)
    if job.status == "failed":
        raise typer.Exit(1)


OlderThan = Annotated[str, typer.Option("--older-than", help="Age, e.g. 180d or 12h.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Count only.")]


@activity_app.command("prune")
@friendly_errors
def activity_prune(older_than: OlderThan = "180d", dry_run: DryRun = False,
                   database_url: DatabaseUrlOption = None) -> None:
    """Delete activity log rows older than the given age (the log's only delete)."""
    from ohm.store import analytics

    _prune(analytics.prune_activity, "activity rows", older_than, dry_run, database_url)


@realtime_app.command("prune")
@friendly_errors
def realtime_prune(older_than: OlderThan = "7d", dry_run: DryRun = False,
                   database_url: DatabaseUrlOption = None) -> None:
    """Delete realtime events older than the given age; clients resuming from before get a reset."""
    from ohm.store import realtime

    _prune(realtime.prune_events, "realtime events", older_than, dry_run, database_url)


def _prune(prune: Any, what: str, older_than: str, dry_run: bool, database_url: str | None) -> None:
    age = timedelta(seconds=parse_ttl(older_than))

    async def work(target: DatabaseTarget, db: Database) -> Any:
        return await prune(db, age, dry_run=dry_run)

    count = with_database(settings_for(database_url), work)
    out.print(f"{'would delete' if dry_run else 'deleted'} {count} {what} older than {older_than}")


def _print_demo(found: demo_store.Demo, token_: str, base: str, code: str | None = None) -> None:
    state = "loaded" if found.created else "already loaded"
    out.print(f"[bold]ESP32 Weather Station demo[/bold] ({state})")
    if code:
        typer.echo(f"  console  : {base}/sign-in?code={code}  (signs you in once; then {base}{found.chat_url})")
    typer.echo(f"  chat URL : {found.chat_url}")
    typer.echo(f"  API      : {base}/v1/chats/{found.chat_id}")
    typer.echo(f"  owner    : {demo_store.DEMO_EMAIL} ({found.user_id})")
    typer.echo(f"  token    : {token_}")
    typer.echo("  (the token is valid for 7 days; send it as 'Authorization: Bearer <token>')")


TTL = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")


def parse_ttl(text: str) -> int:
    match = TTL.match(text)
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(f"not a lifetime: {text!r} (use seconds, or e.g. 30m, 12h, 7d)")
    return int(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]


def main() -> None:
    app()
