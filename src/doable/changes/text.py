"""A task's changes told in words, for its web page: "alice changed status from pending
to completed". The entries are ``service.history_entry``'s, the API's own."""

from __future__ import annotations

from typing import Any

#: Fields named in words where their names are not words already.
_FIELD_NAMES = {"due_date": "due date"}
#: Fields whose values are too long to repeat: only that they changed is said.
_UNQUOTED = {"description"}


def describe(entry: dict[str, Any]) -> list[str]:
    """One sentence per thing the change did (an update of several fields: one each)."""
    who = _who(entry["actor"])
    changes = entry["changes"]
    action = entry["action"]
    if action == "updated":
        return [f"{who} {_field_change(name, *values)}" for name, values in changes.items()]
    if action in ("shared", "share_updated", "unshared"):
        return [f"{who} {_share_change(entry['actor'], action, changes)}"]
    if action in ("attachment_added", "attachment_deleted"):
        before, after = changes.get("attachment", [None, None])
        if action == "attachment_added":
            return [f"{who} attached {_filename(after)}"]
        return [f"{who} removed the attachment {_filename(before)}"]
    if action == "created":
        return [f"{who} created the task"]
    if action == "deleted":
        return [f"{who} deleted the task"]
    return [f"{who}: {action.replace('_', ' ')}"]


def _who(actor: dict[str, Any] | None) -> str:
    if actor is None:
        return "Someone"
    return str(actor.get("username") or "A deleted account")


def _field_change(name: str, before: Any, after: Any) -> str:
    field = _FIELD_NAMES.get(name, name)
    if name in _UNQUOTED:
        if not before:
            return f"added a {field}"
        return f"removed the {field}" if not after else f"changed the {field}"
    return f"changed {field} from {_value(name, before)} to {_value(name, after)}"


def _value(name: str, value: Any) -> str:
    """A field's value as a sentence says it: lists joined, none named, titles quoted."""
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if name == "title":
        return f"“{value}”"
    return str(value).replace("_", " ")


def _share_change(actor: dict[str, Any] | None, action: str, changes: dict[str, Any]) -> str:
    before_user, after_user = changes.get("shared_with", [None, None])
    before, after = changes.get("permission", [None, None])
    sharee = after_user or before_user or {}
    name = sharee.get("username") or "a deleted account"
    if action == "shared":
        return f"shared the task with {name}, who can {after}"
    if action == "share_updated":
        return f"changed what {name} can do from {before} to {after}"
    if actor is not None and actor.get("id") == sharee.get("id"):
        return "left the task"
    return f"stopped sharing the task with {name}"


def _filename(attachment: dict[str, Any] | None) -> str:
    return f"“{(attachment or {}).get('filename', 'a file')}”"
