-- 0015 linear chats: most chats never branch, and their active branch is
-- simply every message in order.  The chat remembers whether it ever
-- branched, so loading it can read the messages in index order instead of
-- walking parent links one by one.
--
-- A chat branches when a message's parent is not the current leaf (an edit,
-- a regeneration, a new root).  The flag never goes back: once set, readers
-- walk the tree, which is always correct.

alter table public.chats add column is_branched boolean not null default false;

comment on column public.chats.is_branched is
  'True once any message was added off the current leaf; false means the messages form one chain.';

-- Existing chats: branched if some message has a sibling or the chat has
-- more than one root.
update public.chats c set is_branched = true
 where exists (
   select 1 from public.messages m
    where m.chat_id = c.id
    group by m.parent_id
   having count(*) > 1
 );

create or replace function ohm.messages_before_insert() returns trigger
  language plpgsql
  security definer
  set search_path = ''
as $$
declare
  seq integer;
begin
  update public.chats c
     set last_sequence       = c.last_sequence + 1,
         message_count       = c.message_count + 1,
         last_message_at     = greatest(c.last_message_at, new.created_at),
         current_leaf_id     = new.id,
         is_branched         = c.is_branched or (new.parent_id is distinct from c.current_leaf_id),
         title               = case
                                 when c.title is null and new.role = 'user'
                                 then ohm.chat_title_from(new.content)
                                 else c.title
                               end,
         total_input_tokens  = c.total_input_tokens + new.input_tokens,
         total_output_tokens = c.total_output_tokens + new.output_tokens,
         total_cost_usd      = c.total_cost_usd + coalesce(new.cost_usd, 0)
   where c.id = new.chat_id and c.user_id = new.user_id
  returning c.last_sequence into seq;
  if not found then
    raise exception 'chat % does not exist', new.chat_id
      using errcode = 'foreign_key_violation';
  end if;
  new.sequence_number := seq;
  update public.profiles p
     set message_count       = p.message_count + 1,
         total_input_tokens  = p.total_input_tokens + new.input_tokens,
         total_output_tokens = p.total_output_tokens + new.output_tokens,
         total_cost_usd      = p.total_cost_usd + coalesce(new.cost_usd, 0)
   where p.id = new.user_id;
  return new;
end
$$;

-- The leaf index only served lookups that the primary key already serves
-- (the composite foreign key starts with the chat id), and a changing leaf
-- in an index costs every append a second index entry.
drop index public.idx_chats_current_leaf;
