-- 0016 a project's chats, newest activity first, straight from an index (as a
-- user's chats already are).  Replaces the plain project_id index, which it
-- also serves as the foreign-key index.

drop index public.idx_chats_project;
create index idx_chats_project_recent on public.chats (project_id, last_message_at desc, id desc)
  where project_id is not null;
