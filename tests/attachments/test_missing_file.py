"""A row whose file is gone (a backup restored from between a delete's commit and its
file removal) is a clean 404 naming the attachment, not a 500."""

from __future__ import annotations

from tests.support.attachments import attachments_path, stored_path, uploaded
from tests.support.factories import assert_problem


def test_downloading_an_attachment_whose_file_is_missing_is_404(app, api, alice, caplog):
    task = api.post("/api/tasks", alice.token, json={"title": "t"}).json
    attachment = uploaded(api, alice.token, task["id"])
    with app.app_context():
        from doable.attachments.models import Attachment
        from doable.extensions import db

        key = db.session.get(Attachment, attachment["id"]).storage_key
    stored_path(app, key).unlink()

    response = api.get(attachments_path(task["id"], attachment["id"]), alice.token)

    assert "missing from storage" in assert_problem(response, 404)["detail"]
    assert f"stored file {key} is missing" in caplog.text
    listed = api.get(attachments_path(task["id"]), alice.token)
    assert [a["id"] for a in listed.json["attachments"]] == [attachment["id"]]
