-- 0014 the append fast path: one round trip per message.
--
-- Appending is the operation agents do most.  Through the general path it
-- costs three round trips (BEGIN with the identity switch, the INSERT,
-- COMMIT).  This function takes the identity as arguments, switches to it
-- for the rest of the (implicit, one-statement) transaction exactly as
-- acting_as would, and runs the same locked insert: the caller sends one
-- statement in autocommit mode and gets the new row back with the commit.
--
-- It is SECURITY INVOKER: after the switch everything runs as that role under
-- row-level security, the same policies as any other path.  Only the
-- application login role may call it (the API roles may not: they must not
-- pick an identity), and the role switch itself is checked by PostgreSQL
-- (the session user must be a member of the role).

create function ohm.append_message(
  p_role          text,
  p_claims        text,
  p_chat_id       uuid,
  p_parent_given  boolean,
  p_parent_id     uuid,
  p_message_role  public.message_role,
  p_content       text,
  p_content_json  jsonb,
  p_agent_name    text,
  p_agent_model   text,
  p_agent_icon    text,
  p_intent        public.agent_intent,
  p_input_tokens  integer,
  p_output_tokens integer,
  p_cost_usd      numeric,
  p_latency_ms    integer,
  p_metadata      jsonb
) returns table (
  id uuid, chat_id uuid, parent_id uuid, sequence_number integer, role text, content text,
  content_json jsonb, agent_name text, agent_model text, agent_icon text, intent text,
  input_tokens integer, output_tokens integer, cost_usd numeric, latency_ms integer, metadata jsonb,
  created_at timestamptz
)
  language plpgsql
  set search_path = ''
as $$
begin
  if p_role not in ('authenticated', 'service_role') then
    raise exception 'role % may not append messages', p_role using errcode = 'insufficient_privilege';
  end if;
  perform set_config('role', p_role, true);
  perform set_config('request.jwt.claims', p_claims, true);
  return query
    with chat as (
      select c.id, c.user_id, c.current_leaf_id from public.chats c where c.id = p_chat_id for update
    )
    insert into public.messages as m
      (chat_id, user_id, parent_id, role, content, content_json, agent_name, agent_model, agent_icon, intent,
       input_tokens, output_tokens, cost_usd, latency_ms, metadata)
    select chat.id, chat.user_id,
           case when p_parent_given then p_parent_id else chat.current_leaf_id end,
           p_message_role, p_content, p_content_json, p_agent_name, p_agent_model, p_agent_icon, p_intent,
           p_input_tokens, p_output_tokens, p_cost_usd, p_latency_ms, p_metadata
      from chat
    returning m.id, m.chat_id, m.parent_id, m.sequence_number, m.role::text, m.content, m.content_json,
              m.agent_name, m.agent_model, m.agent_icon, m.intent::text, m.input_tokens, m.output_tokens,
              m.cost_usd, m.latency_ms, m.metadata, m.created_at;
end
$$;

revoke all on function ohm.append_message(text, text, uuid, boolean, uuid, public.message_role, text, jsonb, text,
                                          text, text, public.agent_intent, integer, integer, numeric, integer,
                                          jsonb) from public;
grant usage on schema ohm to ohm_authenticator;
grant execute on function ohm.append_message(text, text, uuid, boolean, uuid, public.message_role, text, jsonb,
                                             text, text, text, public.agent_intent, integer, integer, numeric,
                                             integer, jsonb) to ohm_authenticator;
