"""Which scope an API key needs for each route (the scopes themselves: ohm.keys.SCOPES).

Every operation of the API is listed; one that is not (a route added without a line here) is refused to
every key, and tests/test_api_keys.py fails until it is listed.  ``USER_ONLY`` routes take a user's token,
never a key, whatever its scopes: a key cannot make keys, list or revoke them, or change the account.
"""

from __future__ import annotations

USER_ONLY = "user-only"
PUBLIC = "public"  # needs no identity at all

ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    # chats and messages
    ("GET", "/v1/chats"): "chats:read",
    ("GET", "/v1/chats/{chat_id}"): "chats:read",
    ("GET", "/v1/chats/{chat_id}/messages"): "chats:read",
    ("GET", "/v1/messages/{message_id}"): "chats:read",
    ("GET", "/v1/chats/{chat_id}/lineage"): "chats:read",
    ("GET", "/v1/chats/{chat_id}/events"): "chats:read",
    ("GET", "/v1/chats/{chat_id}/export"): "chats:read",
    ("GET", "/v1/shares/{token}"): "chats:read",
    ("POST", "/v1/chats"): "chats:write",
    ("PATCH", "/v1/chats/{chat_id}"): "chats:write",
    ("DELETE", "/v1/chats/{chat_id}"): "chats:write",
    ("POST", "/v1/chats/{chat_id}/fork"): "chats:write",
    ("POST", "/v1/shares/{token}/fork"): "chats:write",
    ("POST", "/v1/chats/{chat_id}/messages"): "messages:write",
    ("DELETE", "/v1/messages/{message_id}"): "messages:write",
    # artifacts
    ("GET", "/v1/artifacts/{artifact_id}"): "artifacts:read",
    ("GET", "/v1/artifacts/{artifact_id}/versions"): "artifacts:read",
    ("GET", "/v1/artifacts/{artifact_id}/versions/{version}"): "artifacts:read",
    ("GET", "/v1/artifacts/{artifact_id}/diff"): "artifacts:read",
    ("POST", "/v1/chats/{chat_id}/artifacts"): "artifacts:write",
    ("DELETE", "/v1/artifacts/{artifact_id}"): "artifacts:write",
    ("POST", "/v1/artifacts/{artifact_id}/versions"): "artifacts:write",
    ("POST", "/v1/artifacts/{artifact_id}/restore"): "artifacts:write",
    # shares
    ("POST", "/v1/chats/{chat_id}/shares"): "shares:write",
    ("GET", "/v1/chats/{chat_id}/shares"): "shares:write",
    ("DELETE", "/v1/shares/{token}"): "shares:write",
    # files and datasheet analyses
    ("POST", "/v1/attachments"): "files:write",
    ("GET", "/v1/attachments/{attachment_id}"): "files:read",
    ("PATCH", "/v1/attachments/{attachment_id}"): "files:write",
    ("DELETE", "/v1/attachments/{attachment_id}"): "files:write",
    ("GET", "/v1/attachments/{attachment_id}/content"): "files:read",
    ("GET", "/v1/attachments/{attachment_id}/signed-url"): "files:read",
    ("GET", "/v1/attachments/{attachment_id}/blob"): "files:read",
    ("POST", "/v1/datasheet-analyses"): "files:write",
    ("GET", "/v1/datasheet-analyses"): "files:read",
    ("GET", "/v1/datasheet-analyses/{analysis_id}"): "files:read",
    # projects and hardware
    ("POST", "/v1/projects"): "projects:write",
    ("GET", "/v1/projects"): "projects:read",
    ("GET", "/v1/projects/{project_id}"): "projects:read",
    ("PATCH", "/v1/projects/{project_id}"): "projects:write",
    ("DELETE", "/v1/projects/{project_id}"): "projects:write",
    ("GET", "/v1/projects/{project_id}/bom"): "projects:read",
    ("GET", "/v1/projects/{project_id}/wiring"): "projects:read",
    ("GET", "/v1/projects/{project_id}/code"): "projects:read",
    ("GET", "/v1/projects/{project_id}/checks"): "projects:read",
    ("GET", "/v1/projects/{project_id}/bom.csv"): "projects:read",
    ("GET", "/v1/projects/{project_id}/wiring.yaml"): "projects:read",
    ("GET", "/v1/projects/{project_id}/wiring.svg"): "projects:read",
    ("GET", "/v1/projects/{project_id}/firmware.zip"): "projects:read",
    ("POST", "/v1/projects/{project_id}/verifications"): "projects:write",
    ("GET", "/v1/projects/{project_id}/verifications"): "projects:read",
    ("GET", "/v1/verifications/{verification_id}"): "projects:read",
    ("GET", "/v1/parts"): "projects:read",
    # search, analytics
    ("GET", "/v1/search"): "search",
    ("GET", "/v1/analytics/usage"): "analytics:read",
    ("GET", "/v1/prices"): "analytics:read",
    ("GET", "/v1/activity"): "analytics:read",
    # the account and its keys
    ("GET", "/v1/me"): "account:read",
    ("PATCH", "/v1/me"): USER_ONLY,
    ("DELETE", "/v1/me"): USER_ONLY,
    ("GET", "/v1/me/export"): USER_ONLY,
    ("POST", "/v1/keys"): USER_ONLY,
    ("GET", "/v1/keys"): USER_ONLY,
    ("DELETE", "/v1/keys/{key_id}"): USER_ONLY,
    ("POST", "/v1/imports"): USER_ONLY,
    ("GET", "/v1/imports/{import_id}"): USER_ONLY,
}


def required(method: str, path: str) -> str | None:
    """The scope a key needs for this operation (HEAD as GET); None: not listed, so refused to keys."""
    return ROUTE_SCOPES.get(("GET" if method == "HEAD" else method, path))
