"""Display names and declared types (docs/api.md, Attachments): sanitised names that
cannot reach the disk or the download headers, and types served safely."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from werkzeug.http import parse_options_header

from tests.support.attachments import (
    KEY,
    attachments_path,
    download,
    files_under,
    raw_upload,
    row,
    upload_dir,
    uploaded,
)
from tests.support.factories import Account, ApiClient

# --- display names and declared types --------------------------------------------------


def test_upload_path_traversal_name_stores_base_name_and_a_generated_file_inside_upload_dir(
    app: Flask, api: ApiClient, alice: Account, task_id: int, tmp_path: Path
) -> None:
    body = uploaded(api, alice.token, task_id, filename="../../etc/passwd", content=b"pwned")

    assert body["filename"] == "passwd"
    root = upload_dir(app).resolve()
    (only,) = files_under(root)
    assert KEY.match(only.name)
    assert only.parent.name == only.name[:2]
    assert only.parent.parent == root
    assert only.name == row(app, body["id"])["storage_key"]
    assert not (root / "../../etc/passwd").resolve().exists()
    assert [p for p in tmp_path.rglob("passwd")] == []


def test_upload_backslash_path_name_stores_base_name(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(
        api, alice.token, task_id, "filename*=UTF-8''..%5C..%5Cwindows%5Csystem32%5Cevil.exe"
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "evil.exe"
    assert row(app, response.get_json()["id"])["filename"] == "evil.exe"


def test_upload_html_name_and_type_is_listed_as_declared_and_served_as_octet_stream(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    page = b"<html><script>alert(document.cookie)</script></html>"
    body = uploaded(
        api, alice.token, task_id, content=page, filename="<script>.html", content_type="text/html"
    )

    listed = api.get(attachments_path(task_id), alice.token).get_json()["attachments"]
    response = download(api, alice.token, task_id, body["id"])

    assert (body["filename"], body["content_type"]) == ("script.html", "text/html")
    assert [(a["filename"], a["content_type"]) for a in listed] == [("script.html", "text/html")]
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert response.get_data() == page
    assert row(app, body["id"])["content_type"] == "text/html"


@pytest.mark.parametrize(
    "declared",
    [
        "text/html",
        "image/svg+xml",
        "application/javascript",
        "text/javascript",
        "application/xhtml+xml",
        "application/xml",
        "text/xml",
        "application/x-shockwave-flash",
        "multipart/x-mixed-replace",
        "application/octet-stream",
        "made/up",
    ],
)
def test_download_unsafe_declared_type_is_served_as_octet_stream(
    api: ApiClient, alice: Account, task_id: int, declared: str
) -> None:
    body = uploaded(
        api, alice.token, task_id, content=b"<svg onload=alert(1)>", content_type=declared
    )

    response = download(api, alice.token, task_id, body["id"])

    assert body["content_type"] == declared
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("declared", ["application/pdf", "image/png", "text/plain", "text/csv"])
def test_download_safe_declared_type_is_served_as_declared(
    api: ApiClient, alice: Account, task_id: int, declared: str
) -> None:
    body = uploaded(api, alice.token, task_id, content=b"\x89PNG data", content_type=declared)

    response = download(api, alice.token, task_id, body["id"])

    assert response.status_code == 200
    assert response.mimetype == declared
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data() == b"\x89PNG data"


def test_upload_name_with_quotes_stores_it_without_quotes(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, r'filename="say \"hi\" it' + "'s.pdf\"")
    assert response.status_code == 201, response.get_data(as_text=True)
    attachment_id = response.get_json()["id"]

    got = download(api, alice.token, task_id, attachment_id)

    assert response.get_json()["filename"] == "say hi its.pdf"
    assert row(app, attachment_id)["filename"] == "say hi its.pdf"
    disposition = got.headers["Content-Disposition"]
    assert disposition.count('"') == 2
    assert parse_options_header(disposition) == (
        "attachment",
        {"filename": "say hi its.pdf"},
    )


def test_upload_unicode_name_keeps_its_letters_and_download_sends_filename_star(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="résumé 2026.pdf")

    response = download(api, alice.token, task_id, body["id"])

    assert body["filename"] == "résumé 2026.pdf"
    assert row(app, body["id"])["filename"] == "résumé 2026.pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.isascii()
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%202026.pdf" in disposition
    assert parse_options_header(disposition)[1]["filename"] == "résumé 2026.pdf"


def test_upload_very_long_name_is_cut_to_255_characters_keeping_the_extension(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="a" * 300 + ".pdf")

    assert len(body["filename"]) <= 255
    assert body["filename"].endswith(".pdf")
    assert body["filename"].startswith("a" * 200)
    assert row(app, body["id"])["filename"] == body["filename"]


def test_upload_very_long_unicode_name_fits_the_column_and_downloads(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="é" * 400 + ".pdf")

    response = download(api, alice.token, task_id, body["id"])

    assert len(body["filename"]) <= 255
    assert body["filename"].endswith(".pdf")
    assert set(body["filename"].removesuffix(".pdf")) == {"é"}
    assert (
        parse_options_header(response.headers["Content-Disposition"])[1]["filename"]
        == (body["filename"])
    )


def test_upload_name_with_tab_and_control_characters_stores_them_removed(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    body = uploaded(api, alice.token, task_id, filename="tab\there\x01\x1f.pdf")

    assert body["filename"] == "tabhere.pdf"
    assert row(app, body["id"])["filename"] == "tabhere.pdf"


def test_upload_name_with_encoded_crlf_cannot_inject_download_headers(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(
        api, alice.token, task_id, "filename*=UTF-8''evil%0D%0ASet-Cookie%3A%20sid%3D1%0D%0A.pdf"
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    attachment_id = response.get_json()["id"]

    got = download(api, alice.token, task_id, attachment_id)

    assert response.get_json()["filename"] == "evilSet-Cookie: sid=1.pdf"
    assert row(app, attachment_id)["filename"] == "evilSet-Cookie: sid=1.pdf"
    assert "Set-Cookie" not in got.headers
    assert "\r" not in got.headers["Content-Disposition"]
    assert "\n" not in got.headers["Content-Disposition"]


def test_upload_name_with_encoded_nul_stores_it_removed(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, "filename*=UTF-8''nul%00byte.pdf")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "nulbyte.pdf"
    assert row(app, response.get_json()["id"])["filename"] == "nulbyte.pdf"


def test_upload_with_empty_name_is_stored_as_file(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, 'filename=""', content=b"nameless")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["filename"] == "file"
    assert row(app, response.get_json()["id"])["filename"] == "file"


def test_upload_with_malformed_content_type_records_octet_stream(
    app: Flask, api: ApiClient, alice: Account, task_id: int
) -> None:
    response = raw_upload(api, alice.token, task_id, 'filename="x.bin"', content_type="not a type")

    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["content_type"] == "application/octet-stream"
    assert row(app, response.get_json()["id"])["content_type"] == "application/octet-stream"
