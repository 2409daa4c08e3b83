"""Full-text and identifier search across messages, artifacts, parts and chats.

One statement: each source is searched within the caller's own rows (the
(user_id, vector) GIN indexes of migration 0018), the hits are ranked
together, a page is cut by keyset, and only that page gets snippets.  Anon
searches public chats.  RLS applies to every row as everywhere else; the
owner filters are what make it fast, not what makes it safe.
"""

from __future__ import annotations

import html
import uuid
from datetime import datetime
from typing import Any, Literal

from ohm.auth import Identity
from ohm.db.session import Database
from ohm.models import SearchHit, SearchPage
from ohm.store._common import decode_cursor, encode_cursor
from ohm.store.errors import Invalid

SearchType = Literal["messages", "artifacts", "parts", "chats"]
TYPES: tuple[SearchType, ...] = ("messages", "artifacts", "parts", "chats")
MAX_QUERY = 1000
MAX_PAGE = 100

# ts_headline marks matches with two control characters that cannot occur in
# stored text (they are escaped before they reach us as HTML).
START, STOP = "\x02", "\x03"

# The query as a constant expression (the same as ohm.search_query), so that
# the planner makes it an index condition next to the owner in the
# (user_id, content_search) GIN indexes.
TSQUERY = "websearch_to_tsquery('pg_catalog.english', %(q)s)"


def _source_sql(kind: SearchType, scope: str) -> str:
    """The hits of one source, as (type, id, chat_id, chat_title, text, created_at, rank, extras)."""
    Q = TSQUERY  # noqa: N806 - spelled like SQL in the statements below
    scope_m, scope_c = scope.format(t="m"), scope.format(t="c")
    if kind == "messages":
        return f"""
          select 'message' as type, m.id, m.chat_id, c.title as chat_title, m.content as text, m.created_at,
                 ts_rank(m.content_search, {Q})::float8 as rank, m.role::text as role, m.agent_name,
                 m.intent::text as intent, null::text as artifact_type, null::integer as version
            from public.messages m join public.chats c on c.id = m.chat_id
           where m.content_search @@ {Q} and {scope_m}
             and (%(chat)s::uuid is null or m.chat_id = %(chat)s)
             and (%(project)s::uuid is null or c.project_id = %(project)s)
             and (%(agent)s::text is null or m.agent_name = %(agent)s)
             and (%(intent)s::text is null or m.intent::text = %(intent)s)
             and (%(role)s::text is null or m.role::text = %(role)s)
             and (%(since)s::timestamptz is null or m.created_at >= %(since)s)
             and (%(until)s::timestamptz is null or m.created_at < %(until)s)"""
    if kind == "artifacts":
        return f"""
          select 'artifact', a.id, a.chat_id, c.title, a.title || E'\\n' || coalesce(v.content_text, ''),
                 v.created_at, ts_rank(v.content_search, {Q})::float8, null, v.created_by_agent, null,
                 a.type::text, v.version_number
            from public.artifact_versions v
            join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
            join public.chats c on c.id = a.chat_id
           where v.content_search @@ {Q} and {scope.format(t="v")}
             and (%(chat)s::uuid is null or a.chat_id = %(chat)s)
             and (%(project)s::uuid is null or a.project_id = %(project)s)
             and (%(agent)s::text is null or v.created_by_agent = %(agent)s)
             and %(intent)s::text is null and %(role)s::text is null
             and (%(since)s::timestamptz is null or v.created_at >= %(since)s)
             and (%(until)s::timestamptz is null or v.created_at < %(until)s)"""
    if kind == "parts":
        return f"""
          select 'part', p.id, a.chat_id, c.title,
                 concat_ws(' · ', p.name, p.mpn, p.manufacturer, p.supplier, p.supplier_part_number),
                 p.created_at, ts_rank(p.content_search, {Q})::float8, null, null, null, null, v.version_number
            from public.parts p
            join public.artifact_versions v on v.id = p.artifact_version_id
            join public.artifacts a on a.id = v.artifact_id and a.current_version = v.version_number
            join public.chats c on c.id = a.chat_id
           where p.content_search @@ {Q} and {scope.format(t="p")}
             and (%(chat)s::uuid is null or a.chat_id = %(chat)s)
             and (%(project)s::uuid is null or p.project_id = %(project)s)
             and %(agent)s::text is null and %(intent)s::text is null and %(role)s::text is null
             and (%(since)s::timestamptz is null or p.created_at >= %(since)s)
             and (%(until)s::timestamptz is null or p.created_at < %(until)s)"""
    return f"""
          select 'chat', c.id, c.id, c.title, c.title, c.last_message_at,
                 ts_rank(ohm.search_vector(c.title), {Q})::float8, null, null, null, null, null
            from public.chats c
           where c.title is not null and ohm.search_vector(c.title) @@ {Q} and {scope_c}
             and (%(chat)s::uuid is null or c.id = %(chat)s)
             and (%(project)s::uuid is null or c.project_id = %(project)s)
             and %(agent)s::text is null and %(intent)s::text is null and %(role)s::text is null
             and (%(since)s::timestamptz is null or c.last_message_at >= %(since)s)
             and (%(until)s::timestamptz is null or c.last_message_at < %(until)s)"""


def _check_query(q: str) -> str:
    q = q.strip()
    if not q:
        raise Invalid("q must not be empty")
    if len(q) > MAX_QUERY:
        raise Invalid(f"q is longer than {MAX_QUERY} characters")
    if "\x00" in q:
        raise Invalid("q contains a NUL character")
    return q


def _snippet(headline: str | None) -> str:
    """ts_headline output as safe HTML: the text escaped, the matches in <mark>."""
    text = html.escape(headline or "", quote=False)
    return text.replace(START, "<mark>").replace(STOP, "</mark>")


async def search(
    db: Database,
    identity: Identity,
    q: str,
    *,
    types: list[SearchType] | None = None,
    project_id: uuid.UUID | None = None,
    chat_id: uuid.UUID | None = None,
    agent: str | None = None,
    intent: str | None = None,
    role: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    user_id: uuid.UUID | None = None,
    limit: int = 20,
    cursor: str | None = None,
) -> SearchPage:
    q = _check_query(q)
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE}")
    kinds = [t for t in TYPES if not types or t in types]
    if identity.role == "anon":
        # Parts belong to no public surface; everything else only from public chats.
        kinds = [t for t in kinds if t != "parts"]
        scope = "c.is_public"
    elif identity.role == "service_role":
        scope = "({t}.user_id = %(owner)s or %(owner)s::uuid is null)"
    else:
        scope = "{t}.user_id = %(owner)s"
    owner = user_id if identity.role == "service_role" else identity.user_id
    params: dict[str, Any] = {"q": q, "owner": owner, "chat": chat_id, "project": project_id, "agent": agent,
                              "intent": intent, "role": role, "since": since, "until": until,
                              "limit": limit + 1, "start": START, "stop": STOP}
    after = ""
    if cursor is not None:
        rank, created, last_id = decode_cursor(cursor, 3)
        try:
            params.update(c_rank=float(rank), c_at=datetime.fromisoformat(created), c_id=uuid.UUID(last_id))
        except (TypeError, ValueError):
            raise Invalid("malformed cursor") from None
        after = "where (h.rank, h.created_at, h.id) < (%(c_rank)s, %(c_at)s, %(c_id)s)"
    if not kinds:
        return SearchPage(items=[], next_cursor=None)
    sources = [_source_sql(k, scope) for k in kinds]
    sql = f"""
      with hits (type, id, chat_id, chat_title, text, created_at, rank, role, agent_name, intent, artifact_type,
            version) as ({' union all '.join(sources)}),
      page as (
        select * from hits h {after}
         order by h.rank desc, h.created_at desc, h.id desc
         limit %(limit)s
      )
      select page.*,
             ts_headline('pg_catalog.english', left(page.text, 20000), {TSQUERY},
                         'MaxFragments=2, MaxWords=20, MinWords=6, FragmentDelimiter=" … ", '
                         || 'StartSel=' || %(start)s || ', StopSel=' || %(stop)s) as headline
        from page
       order by page.rank desc, page.created_at desc, page.id desc"""
    async with db.acting_as(identity) as conn:
        # The planner's generic plan cannot know how many rows a user has; plan each search.
        cur = await conn.execute(sql, params, prepare=False)
        rows = await cur.fetchall()
    items = [
        SearchHit(type=r["type"], id=r["id"], chat_id=r["chat_id"], chat_title=r["chat_title"],
                  chat_url=f"/chat/{r['chat_id']}", snippet=_snippet(r["headline"]), rank=r["rank"],
                  created_at=r["created_at"], role=r["role"], agent=r["agent_name"], intent=r["intent"],
                  artifact_type=r["artifact_type"], version=r["version"])
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(repr(last.rank), last.created_at.isoformat(), last.id)
    return SearchPage(items=items, next_cursor=next_cursor)
