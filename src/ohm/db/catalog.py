"""The schema as the catalog holds it, written out as readable, deterministic text.

``describe(conn)`` lists every object OHM's migrations make (roles, schemas, types, tables with their
columns, constraints and policies, indexes, functions, triggers, grants, and the rows of its reference
tables), sorted by name, through PostgreSQL's own deparsers (``pg_get_functiondef``, ``pg_get_indexdef``,
``pg_get_constraintdef``, ``pg_get_triggerdef``, ``pg_get_expr``), whose output does not change between
PostgreSQL 15 and 18.  It is not a restore script: it is what ``src/ohm/db/schema.sql`` holds, so that a
reader sees the whole schema in one file, and so that a test can check that a fresh database migrated
from the files is exactly that (``python -m ohm.db.catalog DSN > src/ohm/db/schema.sql`` rewrites it).

Left out on purpose: who owns tables (whoever migrated), OIDs, the validity of ``NOT VALID`` constraints
(a state of the data, not of the schema), and PostgreSQL 18's catalogued ``NOT NULL`` constraints (the
columns say ``not null``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

import psycopg

SCHEMAS = ("public", "ohm", "auth")
ROLES = ("anon", "authenticated", "service_role", "ohm_authenticator", "ohm_definer")
# Reference rows the migrations insert, by table and the columns that identify and describe them.
SEEDED = {
    "ohm.limits": "name, value",
    "public.model_prices": "model_id, provider, input_per_mtok, output_per_mtok, cached_input_per_mtok, currency, "
                           "valid_from",
}
HEADER = """\
-- OHM's schema as a fresh database holds it after every migration: generated from the catalog by
-- `python -m ohm.db.catalog <owner DSN>` (ohm/db/catalog.py), checked by tests/test_migrations.py.
-- Read it to see the whole schema in one place; change the schema with a new migration, then
-- regenerate this file.
"""


# pg_trigger.tgenabled other than the default "O" (fires in origin and local sessions)
ENABLED = {"A": "enabled always", "R": "enabled on replica only", "D": "disabled"}


def _rows(conn: psycopg.Connection[Any], query: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    return conn.execute(query, tuple(params)).fetchall()


def _section(title: str, lines: Iterable[str]) -> list[str]:
    body = [line for line in lines if line]
    return [f"\n-- === {title} " + "=" * max(0, 100 - len(title)), *body] if body else []


def describe(conn: psycopg.Connection[Any]) -> str:
    out = [HEADER]
    schemas = list(SCHEMAS)
    out += _section("roles", (
        f"role {name}: {'login' if login else 'nologin'}, {'bypassrls' if bypass else 'rls'}, "
        f"{'inherit' if inherit else 'noinherit'}; member of {', '.join(sorted(of)) or 'nothing'}"
        for name, login, bypass, inherit, of in _rows(conn, """
            select r.rolname, r.rolcanlogin, r.rolbypassrls, r.rolinherit,
                   array(select g.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid
                          where m.member = r.oid and g.rolname = any(%s))
              from pg_roles r where r.rolname = any(%s) order by 1""", (list(ROLES), list(ROLES)))))
    out += _section("extensions", (f"extension {name}" for (name,) in _rows(
        conn, "select extname from pg_extension where extname <> 'plpgsql' order by 1")))
    out += _section("types", (
        f"type {schema}.{name} as enum ({labels})" for schema, name, labels in _rows(conn, """
            select n.nspname, t.typname, string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
              from pg_type t join pg_namespace n on n.oid = t.typnamespace join pg_enum e on e.enumtypid = t.oid
             where n.nspname = any(%s) group by 1, 2 order by 1, 2""", (schemas,))))
    out += _tables(conn, schemas)
    out += _section("indexes (other than those of primary keys and unique constraints)", (
        f"{definition};" for (definition,) in _rows(conn, """
            select pg_get_indexdef(i.indexrelid) from pg_index i
              join pg_class c on c.oid = i.indexrelid join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = any(%s)
               and not exists (select 1 from pg_constraint k
                                where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))
             order by n.nspname, c.relname""", (schemas,))))
    out += _section("views", (
        f"view {schema}.{name} as\n{definition}" for schema, name, definition in _rows(conn, """
            select n.nspname, c.relname, pg_get_viewdef(c.oid, true) from pg_class c
              join pg_namespace n on n.oid = c.relnamespace
             where c.relkind in ('v', 'm') and n.nspname = any(%s) order by 1, 2""", (schemas,))))
    out += _functions(conn, schemas)
    out += _section("triggers", (
        f"{definition};" + (f" -- {ENABLED[enabled]}" if enabled != "O" else "")
        for definition, enabled in _rows(conn, """
            select pg_get_triggerdef(t.oid), t.tgenabled::text from pg_trigger t join pg_class c on c.oid = t.tgrelid
              join pg_namespace n on n.oid = c.relnamespace
             where not t.tgisinternal and n.nspname = any(%s) order by n.nspname, c.relname, t.tgname""",
                                                           (schemas,))))
    out += _section("policies", (
        f"policy {name} on {schema}.{table} {'permissive' if permissive else 'restrictive'} for {cmd} "
        f"to {roles}" + (f"\n  using ({using})" if using else "") + (f"\n  with check ({check})" if check else "")
        for schema, table, name, permissive, cmd, roles, using, check in _rows(conn, """
            select n.nspname, c.relname, p.polname, p.polpermissive,
                   case p.polcmd when 'r' then 'select' when 'a' then 'insert' when 'w' then 'update'
                                 when 'd' then 'delete' else 'all' end,
                   coalesce((select string_agg(r.rolname, ', ' order by r.rolname) from pg_roles r
                              where r.oid = any(p.polroles)), 'public'),
                   pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
              from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
             where n.nspname = any(%s) order by 1, 2, 3""", (schemas,))))
    out += _grants(conn, schemas)
    for table, columns in SEEDED.items():
        out += _section(f"rows of {table}", (
            "(" + ", ".join("null" if v is None else repr(str(v)) for v in row) + ")"
            for row in _rows(conn, f"select {columns} from {table} order by 1, {columns.rsplit(', ', 1)[1]}")))
    return "\n".join(out).rstrip() + "\n"


def _tables(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    tables = _rows(conn, """
        select c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relreplident,
               obj_description(c.oid, 'pg_class'), c.relpersistence
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p') and n.nspname = any(%s) order by 2, 3""", (schemas,))
    lines: list[str] = []
    for oid, schema, name, rls, forced, identity, comment, persistence in tables:
        columns = _rows(conn, """
            select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, col_description(a.attrelid, a.attnum)
              from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
             where a.attrelid = %s and a.attnum > 0 and not a.attisdropped order by a.attnum""", (oid,))
        constraints = _rows(conn, """
            select conname, pg_get_constraintdef(oid) from pg_constraint
             where conrelid = %s and contype in ('p', 'u', 'f', 'c', 'x') order by conname""", (oid,))
        body = []
        for column, kind, not_null, default, ident, generated, note in columns:
            text = f"  {column} {kind}"
            if generated == "s":
                text += f" generated always as ({default}) stored"
            elif ident:
                text += " generated " + ("always" if ident == "a" else "by default") + " as identity"
            elif default is not None:
                text += f" default {default}"
            text += " not null" if not_null else ""
            body.append((text, note))
        body += [(f"  constraint {cname} {definition.removesuffix(' NOT VALID')}", None)
                 for cname, definition in constraints]
        flags = [f for f, on in (("unlogged", persistence == "u"), ("row level security", rls), ("forced", forced))
                 if on]
        if identity != "d":
            flags.append({"f": "replica identity full", "n": "replica identity nothing", "i": "replica identity index"}
                         [identity])
        items = [text + ("," if i < len(body) - 1 else "") + (f"  -- {note}" if note else "")
                 for i, (text, note) in enumerate(body)]
        lines.append(f"table {schema}.{name} (" + (f"  -- {comment}" if comment else "") + "\n" + "\n".join(items)
                     + "\n)" + (f"  -- {', '.join(flags)}" if flags else ""))
    return _section("tables", lines)


def _functions(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    functions = _rows(conn, """
        select n.nspname, p.proname, pg_get_function_identity_arguments(p.oid), pg_get_functiondef(p.oid),
               pg_get_userbyid(p.proowner) in ('ohm_definer', 'ohm_authenticator', 'anon', 'authenticated',
                                                'service_role'),
               pg_get_userbyid(p.proowner)
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = any(%s) and p.prokind in ('f', 'p')
           and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
         order by 1, 2, 3""", (schemas,))
    return _section("functions", (
        definition.strip() + ";" + (f"\n-- owner: {owner}" if named_owner else "")
        for _, _, _, definition, named_owner, owner in functions))


def _grants(conn: psycopg.Connection[Any], schemas: list[str]) -> list[str]:
    roles = list(ROLES) + ["PUBLIC"]
    relations = _rows(conn, """
        select n.nspname || '.' || c.relname, case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end,
               string_agg(a.privilege_type, ', ' order by a.privilege_type)
          from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
         where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'S')
           and a.privilege_type <> 'MAINTAIN'  -- PostgreSQL 17+: part of ALL there, unknown before
         group by 1, 2 order by 1, 2""", (schemas,))
    columns = _rows(conn, """
        select n.nspname || '.' || c.relname, case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end,
               a.privilege_type, string_agg(t.attname, ', ' order by t.attname)
          from pg_attribute t join pg_class c on c.oid = t.attrelid join pg_namespace n on n.oid = c.relnamespace,
               aclexplode(t.attacl) a
         where n.nspname = any(%s) and t.attacl is not null
         group by 1, 2, 3 order by 1, 2, 3""", (schemas,))
    functions = _rows(conn, """
        select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace,
               aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
         where n.nspname = any(%s) and a.privilege_type = 'EXECUTE'
           and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
         order by 1, 2""", (schemas,))
    namespaces = _rows(conn, """
        select n.nspname, case when a.grantee = 0 then 'PUBLIC' else pg_get_userbyid(a.grantee) end,
               string_agg(a.privilege_type, ', ' order by a.privilege_type)
          from pg_namespace n, aclexplode(n.nspacl) a where n.nspname = any(%s) group by 1, 2 order by 1, 2""",
                       (schemas,))
    lines = [f"grant {privileges} on schema {schema} to {grantee}" for schema, grantee, privileges in namespaces
             if grantee in roles]
    lines += [f"grant {privileges} on {relation} to {grantee}" for relation, grantee, privileges in relations
              if grantee in roles]
    lines += [f"grant {privilege} ({names}) on {relation} to {grantee}"
              for relation, grantee, privilege, names in columns if grantee in roles]
    by_function: dict[str, list[str]] = {}
    for function, grantee in functions:
        if grantee in roles:
            by_function.setdefault(function, []).append(grantee)
    lines += [f"grant execute on function {function} to {', '.join(sorted(grantees))}"
              for function, grantees in by_function.items()]
    return _section("grants to OHM's roles", lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m ohm.db.catalog <owner DSN of a migrated database>", file=sys.stderr)
        return 2
    with psycopg.connect(argv[1]) as conn:
        sys.stdout.write(describe(conn))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
