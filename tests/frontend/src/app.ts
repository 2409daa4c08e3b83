// A small front end that talks to OHM's tables straight through supabase-js, as the design's Next.js app
// does. It is never run: tests/test_supabase_frontend.py generates `database.types.ts` from the migrated
// schema with Supabase's own generator (@supabase/postgres-meta) and type-checks this file with
// `tsc --strict`. Each function is one front-end operation documented in docs/supabase.md.
import { createClient } from "@supabase/supabase-js";
import type { Database } from "./database.types";

type Tables = Database["public"]["Tables"];
type Message = Tables["messages"]["Row"];

// Compile-time assertions: `Expect<Equal<A, B>>` fails to compile unless A and B are the same type.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

const supabase = createClient<Database>("https://project.supabase.co", "public-anon-key");

// The design's chat page: a chat with its messages, artifacts and project in one request.
export async function loadChat(id: string) {
  const { data, error } = await supabase
    .from("chats")
    .select("*, messages(*), artifacts(*), project:projects(*)")
    .eq("id", id)
    .order("sequence_number", { referencedTable: "messages" })
    .single();
  if (error) throw error;
  // Many messages per chat (one foreign key links them), each numbered by the database.
  type _messages = Expect<Equal<typeof data.messages, Message[]>>;
  type _artifacts = Expect<Equal<typeof data.artifacts, Tables["artifacts"]["Row"][]>>;
  type _project = Expect<Equal<typeof data.project, Tables["projects"]["Row"] | null>>;
  const numbers: number[] = data.messages.map((m) => m.sequence_number);
  const cost: number = data.total_cost_usd;
  return { title: data.title, numbers, cost, project: data.project?.name ?? null };
}

// An artifact with its git-style history, newest first.
export async function loadArtifact(id: string) {
  const { data, error } = await supabase
    .from("artifacts")
    .select("id, type, title, current_version, artifact_versions(version_number, change_summary, parent_version_id, created_at)")
    .eq("id", id)
    .order("version_number", { referencedTable: "artifact_versions", ascending: false })
    .single();
  if (error) throw error;
  const versions: { version_number: number; change_summary: string | null }[] = data.artifact_versions;
  return { title: data.title, current: data.current_version, versions };
}

export async function listVersions(artifactId: string) {
  const { data, error } = await supabase
    .from("artifact_versions")
    .select("version_number, change_summary, created_by_agent, created_at")
    .eq("artifact_id", artifactId)
    .order("version_number", { ascending: false });
  if (error) throw error;
  return data.map((v) => `v${v.version_number}: ${v.change_summary ?? ""}`);
}

// A project with its BOM lines, wiring, firmware files and chats.
export async function loadProject(id: string) {
  const { data, error } = await supabase
    .from("projects")
    .select("*, parts(*), connections(*), code_files(*), chats(id, title, last_message_at)")
    .eq("id", id)
    .single();
  if (error) throw error;
  type _parts = Expect<Equal<typeof data.parts, Tables["parts"]["Row"][]>>;
  type _connections = Expect<Equal<typeof data.connections, Tables["connections"]["Row"][]>>;
  type _files = Expect<Equal<typeof data.code_files, Tables["code_files"]["Row"][]>>;
  const wires: string[] = data.connections.map((c) => `${c.from_part}.${c.from_pin} -> ${c.to_part}.${c.to_pin}`);
  const chats: string[] = data.chats.map((c) => c.id);
  return { name: data.name, budget: data.budget_amount, parts: data.parts.length, wires, chats };
}

// Writes name only what the user decides: the owner, numbers, counters, costs and times are the database's.
export async function startChat(question: string) {
  const { data: chat, error } = await supabase.from("chats").insert({ title: null }).select().single();
  if (error) throw error;
  const { data: message, error: sendError } = await supabase
    .from("messages")
    .insert({ chat_id: chat.id, role: "user", content: question })
    .select("id, sequence_number, created_at")
    .single();
  if (sendError) throw sendError;
  return { chat: chat.id, first: message.sequence_number };
}

export async function saveBom(chatId: string, parts: { name: string; mpn?: string; quantity: number }[]) {
  const { data: artifact, error } = await supabase
    .from("artifacts")
    .insert({ chat_id: chatId, type: "bom", title: "Bill of materials" })
    .select()
    .single();
  if (error) throw error;
  const { error: versionError } = await supabase
    .from("artifact_versions")
    .insert({ artifact_id: artifact.id, content_json: { parts }, change_summary: "First BOM" });
  if (versionError) throw versionError;
  return artifact.id;
}

export async function rename(chatId: string, title: string) {
  const { error } = await supabase.from("chats").update({ title, is_pinned: true }).eq("id", chatId);
  if (error) throw error;
}

// What takes more than one table: functions in `public`, called with rpc().
export async function shareAndFork(chatId: string) {
  const { data: share, error } = await supabase.rpc("share_chat", { chat_id: chatId });
  if (error) throw error;
  const token: string = share.share_token;
  const { data: shown, error: readError } = await supabase.rpc("read_share", { token });
  if (readError) throw readError;
  const { data: fork, error: forkError } = await supabase.rpc("fork_share", { token });
  if (forkError) throw forkError;
  const { data: own, error: ownError } = await supabase.rpc("fork_chat", { chat_id: chatId });
  if (ownError) throw ownError;
  return { url: `/share/${token}`, shown, fork: fork.id, own: own.id };
}

export async function restore(artifactId: string, version: number) {
  const { data, error } = await supabase.rpc("restore_artifact_version", { artifact_id: artifactId, version });
  if (error) throw error;
  return data.current_version;
}

export async function search(q: string) {
  const { data, error } = await supabase.rpc("search_all", { q, types: ["messages", "parts"], max_results: 10 });
  if (error) throw error;
  return data.map((hit) => ({ type: hit.type, chat: hit.chat_id, html: hit.snippet }));
}

export async function spendByAgent() {
  const { data, error } = await supabase.rpc("usage_summary", { group_by: "agent" });
  if (error) throw error;
  return data.filter((row) => !row.is_total).map((row) => [row.key, row.cost_usd] as const);
}

// Realtime: new messages of one chat as they are written (RLS decides who hears what).
export function watch(chatId: string, onMessage: (m: Message) => void) {
  return supabase
    .channel(`chat:${chatId}`)
    .on("postgres_changes", { event: "INSERT", schema: "public", table: "messages", filter: `chat_id=eq.${chatId}` },
        (payload) => onMessage(payload.new as Message))
    .subscribe();
}

// Storage: uploads go under the user's own folder of the private bucket.
export async function uploadPhoto(file: Blob, name: string) {
  const { data: auth } = await supabase.auth.getUser();
  const userId = auth.user?.id;
  if (!userId) throw new Error("sign in first");
  const { data, error } = await supabase.storage.from("ohm-uploads").upload(`${userId}/${name}`, file);
  if (error) throw error;
  const { data: link } = await supabase.storage.from("ohm-uploads").createSignedUrl(data.path, 3600);
  return link?.signedUrl;
}
