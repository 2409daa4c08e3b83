"""The docs say what the code does: commands, settings, rule codes, tables and endpoints are checked both ways.

Each test reads a document and the thing it describes (the CLI, the settings, the checks, the catalog, the
OpenAPI schema) and fails when one names something the other does not have.  Also here: the test suite's
own house rule that no test module imports another (shared code lives in conftest.py and helpers.py).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import psycopg
import pytest
import typer.main

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text()


def words(text: str) -> str:
    return " ".join(text.split())


# --- the CLI -------------------------------------------------------------------------------------------------------


def cli_commands() -> set[str]:
    from ohm.cli import app

    out: set[str] = set()

    def walk(command, prefix: str) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            full = f"{prefix} {name}".strip()
            out.add(full)
            walk(sub, full)

    walk(typer.main.get_command(app), "")
    return out


def test_every_cli_command_in_the_docs_exists_and_the_docs_name_every_command():
    commands = cli_commands()
    groups = {c.split()[0] for c in commands if " " in c}
    text = README + "".join(p.read_text() for p in DOCS.glob("*.md"))
    used = set()
    for match in re.finditer(r"(?:^|[`$(]|\n\s*)ohm ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?", text):
        first, second = match.group(1), match.group(2)
        used.add(f"{first} {second}" if first in groups and second else first)
    unknown = {u for u in used if u not in commands and u.split()[0] not in ("is", "the", "and", "as")}
    assert unknown == set(), f"the docs name commands the CLI does not have: {unknown}"
    leaves = {c for c in commands if c not in groups}
    assert leaves - used == set(), f"commands the docs never mention: {leaves - used}"


# --- settings ------------------------------------------------------------------------------------------------------

# Variables the tools around OHM read (tests, benchmarks), not the server's settings.
TOOL_VARIABLES = {"OHM_TEST_DATABASE_URL", "OHM_SUPABASE_PG_SCRIPT", "OHM_BENCH_SERVER_URL"}
# Read by one command only, as its option's variable (not a server setting).
CLI_VARIABLES = {"OHM_API_KEY"}


def test_every_variable_in_the_readme_is_a_setting_and_every_setting_is_in_the_readme():
    from ohm.config import Settings

    settings = {f"OHM_{name.upper()}" for name in Settings.model_fields}
    mentioned = set(re.findall(r"\bOHM_[A-Z0-9_]+[A-Z0-9]", README))
    unread = mentioned - settings - TOOL_VARIABLES - CLI_VARIABLES
    assert unread == set(), "the README names variables OHM does not read"
    cli = (ROOT / "src" / "ohm" / "cli.py").read_text()
    assert all(f'envvar="{name}"' in cli for name in CLI_VARIABLES)
    table = set(re.findall(r"^\| `(OHM_[A-Z0-9_]+)`", README, re.M))
    table |= {name for row in re.findall(r"^\| (`OHM_.+?) \|", README, re.M)
              for name in re.findall(r"`(OHM_[A-Z0-9_]+)`", row)}
    assert settings - table == set(), "settings missing from the README's configuration table"
    for name in TOOL_VARIABLES:
        readers = [*ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py"), ROOT / ".ci/run"]
        used = any(name in p.read_text() for p in readers)
        assert used, f"{name} is documented as a tool variable but nothing reads it"


# --- hardware rule codes -------------------------------------------------------------------------------------------


def test_the_rule_codes_in_hardware_md_are_the_rules_in_the_code():
    code = "".join(p.read_text() for p in (ROOT / "src" / "ohm" / "hardware").glob("*.py"))
    in_code = set(re.findall(r"Finding\(\s*\"((?:bom|wiring|voltage|power|code|pins|bus)\.[a-z_]+)\"", code))
    checks = (DOCS / "hardware.md").read_text().split("## Checks", 1)[1].split("\n## ", 1)[0]
    in_docs = set(re.findall(r"`((?:bom|wiring|voltage|power|code|pins|bus)\.[a-z_]+)`", checks))
    assert in_code, "the rules were found"
    assert in_code - in_docs == set(), "rules docs/hardware.md does not describe"
    assert in_docs - in_code == set(), "docs/hardware.md describes rules the code does not have"


# --- tables --------------------------------------------------------------------------------------------------------

NUMBERS = {"fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
           "twenty-one": 21, "twenty-two": 22, "twenty-three": 23, "twenty-four": 24}


def test_schema_md_lists_exactly_the_tables_of_the_catalog(database_url):
    with psycopg.connect(database_url) as conn:
        catalog = {f"{schema}.{name}" for schema, name in conn.execute(
            """select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p') and n.nspname in ('public', 'ohm')""")}
    text = (DOCS / "schema.md").read_text()
    section = text.split("## Tables", 1)[1].split("\n## ", 1)[0]
    listed = {name if "." in name else f"public.{name}" for name in re.findall(r"^\| `([a-z_.]+)` \|", section, re.M)}
    assert catalog - listed == set(), "tables docs/schema.md does not describe"
    assert listed - catalog == set(), "docs/schema.md describes tables that do not exist"
    count = words(text.split("\n\n", 2)[1]).split()[0].lower()
    assert NUMBERS.get(count) == sum(1 for t in catalog if t.startswith("public.")), "the count of public tables"


# --- endpoints -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def operations() -> set[tuple[str, str]]:
    from ohm.api.app import create_app
    from ohm.config import Settings

    spec = create_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none", jwt_secret="s" * 40)).openapi()
    return {(method.upper(), shape(path)) for path, ops in spec["paths"].items() for method in ops}


def shape(path: str) -> str:
    """A path with its parameters' names left out (the docs say {id} where the schema says {chat_id})."""
    return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])


def test_every_endpoint_in_the_docs_exists_and_every_endpoint_is_documented(operations):
    documented = set()
    for doc in [*DOCS.glob("*.md"), ROOT / "README.md"]:
        text = doc.read_text()
        for method, path in re.findall(r"\b(GET|POST|PUT|PATCH|DELETE) (/[^\s`)|]*)", text):
            documented.add((method, shape(path)))
        for curl in re.findall(r"curl [^\n]*", text):  # curl examples: -X METHOD, else GET
            for path in re.findall(r"\$API(/[^\s'\"]*)", curl):
                method = re.search(r"-X (GET|POST|PUT|PATCH|DELETE)", curl)
                documented.add((method.group(1) if method else "GET", shape(re.sub(r"\$\w+", "{}", path))))
    # Not operations of the API schema: the HTML pages, the WebSocket, the schema itself.
    pages = {("GET", "/share/{}"), ("GET", "/usage"), ("GET", "/v1/realtime"), ("GET", "/openapi.json"),
             # the web console (ohm.web.console: HTML, not in the OpenAPI)
             ("GET", "/"), ("GET", "/chat/{}"), ("GET", "/projects/{}"), ("POST", "/share/{}/fork"),
             ("GET", "/sign-in"), ("POST", "/sign-in/session"),
             ("POST", "/sign-out"), ("GET", "/docs"), ("GET", "/redoc")}
    assert documented - operations - pages == set(), "the docs name endpoints the API does not have"
    assert operations - documented == set(), "endpoints no document describes"


# --- the test suite's own rule ---------------------------------------------------------------------------------------


def test_no_test_module_imports_another():
    offenders = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level and (node.module or "").startswith("test_"):
                offenders.append(f"{path.name}: from .{node.module} import ...")
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_"):
                offenders.append(f"{path.name}: from {node.module} import ...")
    assert offenders == [], "shared test code belongs in conftest.py or helpers.py"
