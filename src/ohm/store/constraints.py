"""Every CHECK constraint of OHM's schema, by what its refusal means to the caller.

``database_errors`` looks a refused constraint up here by its name (never by a part of the name): a size
check is a 413, a nesting check and every other rule a 422.  A test compares this table with the catalog
of a migrated database, so a new constraint cannot ship without a decision about how it is reported.
"""

from __future__ import annotations

from ohm.store.errors import Invalid, StoreError, TooLarge

# Size checks (octet_length of a text or JSON value, sometimes with its JSON type).
TOO_LARGE = frozenset({
    "activity_log_metadata_check", "artifact_versions_content_json_check", "artifact_versions_content_text_check",
    "check_runs_findings_check", "circuit_verifications_detected_components_check",
    "circuit_verifications_issues_check", "circuit_verifications_suggestions_check", "code_files_content_check",
    "datasheet_analyses_key_specs_check", "datasheet_analyses_pinout_check", "datasheet_analyses_warnings_check",
    "messages_content_check", "messages_content_json_check", "messages_metadata_check", "parts_alternatives_check",
    "parts_specs_check", "profiles_preferences_check", "projects_requirements_check",
    "projects_success_metrics_check", "projects_workflow_steps_check", "part_library_pins_check",
})

# JSON nesting (at most 64 levels: the `_depth` constraints of the migrations).
TOO_DEEP = frozenset({
    "artifact_versions_content_json_depth", "circuit_verifications_detected_components_depth",
    "circuit_verifications_issues_depth", "circuit_verifications_suggestions_depth",
    "datasheet_analyses_key_specs_depth", "datasheet_analyses_pinout_depth", "datasheet_analyses_warnings_depth",
    "messages_content_json_depth", "messages_metadata_depth", "parts_alternatives_depth", "parts_specs_depth",
    "profiles_preferences_depth", "projects_requirements_depth", "projects_success_metrics_depth",
    "projects_workflow_steps_depth",
})

# Raised by triggers with a message naming the budget (ohm.limits): the message is passed on.
BUDGETS = frozenset({"bom_parts_limit", "wiring_connections_limit", "code_files_limit"})

# Raised by the hardware triggers with a message saying what is wrong with the document's shape.
SHAPES = frozenset({"bom_shape", "wiring_shape", "code_shape"})

# What a message may cost.
COST = frozenset({"messages_cost_usd_bound"})

# Everything else: ranges, formats, lengths of short fields, consistency between columns.
NOT_ALLOWED = frozenset({
    "activity_log_action_check", "activity_log_actor_role_check", "activity_log_entity_type_check",
    "artifact_versions_change_summary_check", "artifact_versions_check", "artifact_versions_created_by_agent_check",
    "artifact_versions_version_number_check", "artifacts_check", "artifacts_current_version_check",
    "artifacts_title_check", "artifacts_total_versions_check", "attachments_bucket_check",
    "attachments_filename_check", "attachments_filename_printable", "attachments_mime_type_check",
    "attachments_processing_error_check", "attachments_sha256_check", "attachments_size_bytes_check",
    "attachments_storage_path_check", "chats_last_event_seq_check", "chats_last_sequence_check",
    "chats_message_count_check", "chats_title_check", "chats_total_cost_usd_check", "chats_total_input_tokens_check",
    "chats_total_output_tokens_check", "check_runs_errors_check", "check_runs_infos_check",
    "check_runs_rules_version_check", "check_runs_warnings_check", "circuit_verifications_model_check",
    "code_files_board_check", "code_files_filename_check", "code_files_framework_check", "code_files_language_check",
    "code_files_platform_check", "code_files_position_check", "code_files_success_unit_check",
    "connections_from_part_check", "connections_from_pin_check", "connections_instruction_check",
    "connections_position_check", "connections_signal_type_check", "connections_step_number_check",
    "connections_to_part_check", "connections_to_pin_check", "connections_wire_color_check",
    "datasheet_analyses_application_notes_check", "datasheet_analyses_manufacturer_check",
    "datasheet_analyses_model_check", "datasheet_analyses_part_number_check", "messages_agent_icon_check",
    "messages_agent_model_check", "messages_agent_name_check", "messages_check", "messages_cost_usd_check",
    "messages_input_tokens_check", "messages_latency_ms_check", "messages_output_tokens_check",
    "messages_sequence_number_check", "model_prices_cached_input_per_mtok_check", "model_prices_currency_check",
    "model_prices_input_per_mtok_check", "model_prices_model_id_check", "model_prices_output_per_mtok_check",
    "model_prices_provider_check", "limits_value_check", "part_library_datasheet_check",
    "part_library_description_check", "part_library_keywords_check", "part_library_library_check",
    "part_library_name_check", "part_library_reference_check", "part_library_source_check",
    "share_views_visitor_check", "login_codes_code_sha256_check", "parts_currency_check",
    "parts_datasheet_url_check", "parts_footprint_check", "parts_manufacturer_check", "parts_mpn_check",
    "parts_name_check", "parts_notes_check", "parts_position_check", "parts_quantity_check", "parts_supplier_check",
    "parts_supplier_part_number_check", "parts_unit_price_check", "profiles_avatar_url_check",
    "profiles_display_name_check", "projects_budget_amount_check", "usage_counters_slot_check",
    "projects_budget_currency_check", "projects_description_check", "projects_goal_check", "projects_location_check",
    "projects_name_check", "projects_spend_limit_usd_check", "realtime_events_data_check",
    "realtime_events_event_seq_check", "realtime_events_kind_check", "shared_chats_artifact_versions_check",
    "shared_chats_check", "shared_chats_check1", "shared_chats_fork_count_check", "shared_chats_share_token_check",
    "shared_chats_view_count_check", "api_keys_name_check", "api_keys_prefix_check", "api_keys_secret_sha256_check",
    "api_keys_scopes_check", "api_keys_one_limit", "activity_log_actor_key_name_check",
    "imports_source_check", "imports_filename_check", "imports_status_check", "imports_bytes_total_check",
    "imports_bytes_read_check", "imports_conversations_check", "imports_chats_created_check",
    "imports_chats_skipped_check", "imports_chats_failed_check", "imports_messages_check", "imports_error_check",
    "imported_chats_source_check", "imported_chats_source_id_check", "imported_chats_position_check",
    "imported_chats_title_check", "imported_chats_status_check", "imported_chats_messages_check",
    "imported_chats_detail_check",
})

ALL = TOO_LARGE | TOO_DEEP | BUDGETS | SHAPES | COST | NOT_ALLOWED
RAISED = BUDGETS | SHAPES  # not in the catalog: named by a trigger's RAISE


def refusal(name: str, message: str) -> StoreError:
    """The error for a violated CHECK constraint ``name`` (``message``: PostgreSQL's one-line text)."""
    if name in TOO_LARGE:
        return TooLarge(f"value too large ({name})")
    if name in TOO_DEEP:
        return Invalid(f"JSON nested deeper than 64 levels ({name})")
    if name in BUDGETS:
        return TooLarge(message)
    if name in SHAPES:
        return Invalid(message)
    if name in COST:
        return Invalid(f"cost_usd is at most 1000 for one message ({name})")
    return Invalid(f"value not allowed ({name or 'a check'})")
