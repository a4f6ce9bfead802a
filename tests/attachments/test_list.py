"""Listing a task's attachments (docs/api.md, Attachments), in upload order."""

from __future__ import annotations

from tests.support.attachments import BINARY, FIELDS, attachments_path, new_task, uploaded
from tests.support.factories import Account, ApiClient, assert_problem

# --- list --------------------------------------------------------------------------------


def test_list_attachments_returns_each_in_upload_order(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    first = uploaded(api, alice.token, task_id, content=b"one", filename="one.pdf")
    second = uploaded(
        api, alice.token, task_id, content=BINARY, filename="two.png", content_type="image/png"
    )
    other_task = new_task(api, alice, "Other")
    uploaded(api, alice.token, other_task, content=b"elsewhere")

    response = api.get(attachments_path(task_id), alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"attachments": [first, second]}
    assert all(set(item) == FIELDS for item in response.get_json()["attachments"])


def test_list_attachments_of_task_without_files_is_empty(
    api: ApiClient, alice: Account, task_id: int
) -> None:
    response = api.get(attachments_path(task_id), alice.token)

    assert response.status_code == 200
    assert response.get_json() == {"attachments": []}


def test_list_attachments_of_missing_task_returns_404(api: ApiClient, alice: Account) -> None:
    assert_problem(api.get(attachments_path(999), alice.token), 404)
