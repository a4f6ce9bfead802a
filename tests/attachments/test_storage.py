"""Attachment storage underneath the API: the filesystem store, the file-name and
content-type sanitisers, side effects that wait for a commit, and `doable attachments gc`."""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from blinker import Namespace
from flask import Flask

from doable import signals
from doable.attachments.models import Attachment
from doable.attachments.service import declared_type, display_name
from doable.attachments.storage import FileSystemStorage, storage
from doable.auth.models import User
from doable.extensions import db
from doable.unit_of_work import publish, unit_of_work
from tests.support.attachments import KEY, files_under, upload_dir, uploaded
from tests.support.factories import ApiClient

BINARY = b"\x00\x01\xff\xfe\x80 not utf-8 \xc3\x28 \x00\x00 end"
BAD_KEYS = [
    "../../etc/passwd",
    "..",
    "",
    "0123456789abcdef0123456789abcdeF",  # upper case
    "0123456789abcdef0123456789abcde",  # 31 characters
    "0123456789abcdef0123456789abcdef0",  # 33 characters
    "01/3456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef\n",
    ".staging",
    "/etc/0123456789abcdef0123456789a",
]

# --- helpers -------------------------------------------------------------------------


def chunks_then_fail(*chunks: bytes) -> Iterator[bytes]:
    yield from chunks
    raise RuntimeError("client went away")


def stored_keys(app: Flask) -> list[str]:
    with app.app_context():
        query = sa.select(Attachment.storage_key).order_by(Attachment.id)
        return list(db.session.scalars(query))


# --- FileSystemStorage -----------------------------------------------------------------


def test_save_chunks_returns_a_random_key_and_writes_the_bytes_two_levels_deep(
    tmp_path: Path,
) -> None:
    store = FileSystemStorage(tmp_path)

    key = store.save([b"hello ", b"", b"world"])

    assert KEY.match(key)
    assert (tmp_path / key[:2] / key).read_bytes() == b"hello world"
    assert files_under(tmp_path) == [tmp_path / key[:2] / key]


def test_save_twice_returns_distinct_keys(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)

    keys = {store.save([b"same bytes"]) for _ in range(5)}

    assert len(keys) == 5
    assert len(files_under(tmp_path)) == 5


def test_open_saved_key_returns_the_exact_binary_bytes(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)
    key = store.save([BINARY[:7], BINARY[7:]])

    with store.open(key) as stream:
        data = stream.read()

    assert data == BINARY
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(BINARY).hexdigest()


def test_open_unknown_key_raises_file_not_found(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)

    with pytest.raises(FileNotFoundError):
        store.open("0" * 32)


def test_delete_saved_key_removes_the_file(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)
    kept = store.save([b"kept"])
    gone = store.save([b"gone"])

    store.delete(gone)

    assert not (tmp_path / gone[:2] / gone).exists()
    assert files_under(tmp_path) == [tmp_path / kept[:2] / kept]
    assert list(store.stored_keys()) == [kept]


def test_delete_missing_key_is_not_an_error(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)
    key = store.save([b"x"])
    store.delete(key)

    store.delete(key)

    assert files_under(tmp_path) == []


def test_stored_keys_lists_saved_keys_and_ignores_other_files(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)
    keys = {store.save([b"a"]), store.save([b"b"])}
    (tmp_path / ".staging" / "tmp-leftover").write_bytes(b"half")
    (tmp_path / "ab").mkdir(exist_ok=True)
    (tmp_path / "ab" / "notes.txt").write_bytes(b"not a key")
    (tmp_path / "README").write_bytes(b"not a key either")

    listed = list(store.stored_keys())

    assert sorted(listed) == sorted(keys)


def test_stored_keys_of_an_empty_or_missing_root_is_empty(tmp_path: Path) -> None:
    assert list(FileSystemStorage(tmp_path / "never-created").stored_keys()) == []


def test_save_failing_chunk_iterator_reraises_and_leaves_no_file(tmp_path: Path) -> None:
    store = FileSystemStorage(tmp_path)
    kept = store.save([b"earlier upload"])

    with pytest.raises(RuntimeError, match="client went away"):
        store.save(chunks_then_fail(b"first chunk", b"second chunk"))

    assert files_under(tmp_path) == [tmp_path / kept[:2] / kept]
    assert list((tmp_path / ".staging").iterdir()) == []
    assert list(store.stored_keys()) == [kept]


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("operation", ["open", "delete"])
def test_storage_operation_invalid_key_raises_value_error_and_touches_nothing(
    tmp_path: Path, operation: str, key: str
) -> None:
    root = tmp_path / "uploads"
    store = FileSystemStorage(root)
    kept = store.save([b"kept"])
    outside = tmp_path / "etc" / "passwd"
    outside.parent.mkdir()
    outside.write_bytes(b"root:x:0:0")

    with pytest.raises(ValueError, match="not a storage key"):
        getattr(store, operation)(key)

    assert outside.read_bytes() == b"root:x:0:0"
    assert files_under(root) == [root / kept[:2] / kept]


# --- display_name: the client's file name made safe ------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\evil.exe", "evil.exe"),
        ("/absolute/path/notes.txt", "notes.txt"),
        ("dir/", "file"),
        ("evil\r\nSet-Cookie: a=b.pdf", "evilSet-Cookie: a=b.pdf"),
        ("a\nb\rc.pdf", "abc.pdf"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ("bell\x07tab\tesc\x1b.pdf", "belltabesc.pdf"),
        ("del\x7fc1\x85.pdf", "delc1.pdf"),
        ('say "hi".pdf', "say hi.pdf"),
        ("it's.pdf", "its.pdf"),
        ("<script>.html", "script.html"),
        ("<img src=x onerror=alert(1)>.png", "img src=x onerror=alert(1).png"),
        ("back`tick`.txt", "backtick.txt"),
        ("résumé 2026.pdf", "résumé 2026.pdf"),
        ("日本語の資料.docx", "日本語の資料.docx"),
        ("  padded name.txt  ", "padded name.txt"),
        ("...", "file"),
        (".hidden", "hidden"),
        ("", "file"),
        (None, "file"),
        ("\r\n\x00", "file"),
    ],
)
def test_display_name_hostile_input_returns_safe_name(raw: str | None, expected: str) -> None:
    assert display_name(raw) == expected


@pytest.mark.parametrize("raw", ["a\u2028b.txt", "a\u2029b.txt", "a\u200bb.txt", "a\ufeffb.txt"])
def test_display_name_unicode_line_and_format_separators_are_removed(raw: str) -> None:
    assert display_name(raw) == "ab.txt"


def test_display_name_decomposed_unicode_returns_composed_form() -> None:
    decomposed = unicodedata.normalize("NFD", "résumé.pdf")
    assert decomposed != "résumé.pdf"

    assert display_name(decomposed) == "résumé.pdf"


@pytest.mark.parametrize(
    ("raw", "extension"),
    [
        ("a" * 300 + ".pdf", ".pdf"),
        ("é" * 400 + ".tar.gz", ".gz"),
        ("x" * 254 + ".jpeg", ".jpeg"),
    ],
)
def test_display_name_too_long_is_cut_to_255_keeping_the_extension(
    raw: str, extension: str
) -> None:
    name = display_name(raw)

    assert len(name) == 255
    assert name.endswith(extension)
    assert name[: -len(extension)] == raw[: 255 - len(extension)]


def test_display_name_too_long_without_extension_is_cut_to_255() -> None:
    assert display_name("n" * 1000) == "n" * 255


def test_display_name_exactly_255_characters_is_kept_whole() -> None:
    raw = "b" * 251 + ".pdf"

    assert display_name(raw) == raw


# --- declared_type: the client's content type, recorded (never trusted for serving) ------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("application/pdf", "application/pdf"),
        ("Text/HTML", "text/html"),
        ("image/svg+xml", "image/svg+xml"),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("", "application/octet-stream"),
        (None, "application/octet-stream"),
        ("not a type", "application/octet-stream"),
        ("text/html\r\nX-Injected: 1", "application/octet-stream"),
        ("text/html; charset=utf-8", "application/octet-stream"),
        ("/pdf", "application/octet-stream"),
        ("application/" + "x" * 300, "application/octet-stream"),
    ],
)  # fmt: skip
def test_declared_type_returns_normalised_type_or_octet_stream(
    raw: str | None, expected: str
) -> None:
    assert declared_type(raw) == expected


# --- side effects after commit -----------------------------------------------------------


def after_commit(callback: Any) -> None:
    """Run ``callback`` once the current transaction commits: a signal of its own,
    published through the unit of work as a service publishes one."""
    signal = Namespace().signal("after-commit")
    signal.connect(lambda sender, **_: callback(), weak=False)
    publish(signal)


def refused_unit_of_work(*steps: Any) -> None:
    """Run ``steps`` in a unit of work whose body then fails, so it rolls back."""

    def run() -> None:
        with unit_of_work():
            for step in steps:
                step()
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        run()


def test_after_commit_callback_is_dropped_on_rollback(app: Flask) -> None:
    ran: list[str] = []
    with app.app_context():
        refused_unit_of_work(
            lambda: db.session.execute(sa.text("SELECT 1")),
            lambda: after_commit(lambda: ran.append("rolled back")),
        )

        with unit_of_work():
            db.session.execute(sa.text("SELECT 1"))

    assert ran == []


def test_after_commit_callback_runs_once_on_commit(app: Flask) -> None:
    ran: list[str] = []
    with app.app_context():
        with unit_of_work():
            db.session.execute(sa.text("SELECT 1"))
            after_commit(lambda: ran.append("committed"))

        assert ran == ["committed"]
        with unit_of_work():
            db.session.execute(sa.text("SELECT 1"))

    assert ran == ["committed"]


def test_after_commit_failing_callback_keeps_the_commit_and_runs_the_others(app: Flask) -> None:
    ran: list[str] = []

    def fail() -> None:
        raise OSError("disk gone")

    with app.app_context():
        with unit_of_work():
            db.session.add(User(username="zed", email="zed@example.com", password_hash="x"))
            after_commit(fail)
            after_commit(lambda: ran.append("second"))

        db.session.rollback()
        names = db.session.scalars(sa.select(User.username)).all()

    assert ran == ["second"]
    assert names == ["zed"]


def test_after_commit_rolled_back_file_removal_keeps_the_file(app: Flask) -> None:
    with app.app_context():
        key = storage().save([b"keep me"])
        path = upload_dir(app) / key[:2] / key
        refused_unit_of_work(
            lambda: db.session.execute(sa.text("SELECT 1")),
            lambda: publish(signals.files_released, storage_keys=[key]),
        )

        with unit_of_work():
            pass

    assert path.read_bytes() == b"keep me"


# --- doable attachments gc ---------------------------------------------------------------


def test_gc_removes_files_without_a_row_and_keeps_the_others(
    app: Flask, api: ApiClient, runner: Any
) -> None:
    alice = api.account("alice")
    task_id = api.post("/api/tasks", alice.token, json={"title": "t"}).get_json()["id"]
    uploaded(api, alice.token, task_id, content=b"first", filename="kept.bin")
    uploaded(api, alice.token, task_id, content=b"second", filename="kept.bin")
    (kept_a, kept_b) = stored_keys(app)
    with app.app_context():
        orphans = [storage().save([b"orphan one"]), storage().save([b"orphan two"])]
    root = upload_dir(app)

    result = runner.invoke(args=["attachments", "gc"])

    assert result.exit_code == 0, result.output
    assert "Removed 2 orphaned file(s)" in result.output
    assert files_under(root) == sorted([root / kept_a[:2] / kept_a, root / kept_b[:2] / kept_b])
    assert all(not (root / key[:2] / key).exists() for key in orphans)
    assert stored_keys(app) == [kept_a, kept_b]
    listed = api.get(f"/api/tasks/{task_id}/attachments", alice.token).get_json()["attachments"]
    assert len(listed) == 2


def test_gc_without_orphans_removes_nothing(app: Flask, api: ApiClient, runner: Any) -> None:
    alice = api.account("alice")
    task_id = api.post("/api/tasks", alice.token, json={"title": "t"}).get_json()["id"]
    body = uploaded(api, alice.token, task_id, content=BINARY, filename="kept.bin")
    before = files_under(upload_dir(app))

    result = runner.invoke(args=["attachments", "gc"])

    assert result.exit_code == 0, result.output
    assert "Removed 0 orphaned file(s)" in result.output
    assert files_under(upload_dir(app)) == before
    with api.get(f"/api/tasks/{task_id}/attachments/{body['id']}", alice.token) as download:
        assert download.status_code == 200
        assert download.get_data() == BINARY


def test_gc_with_no_upload_folder_yet_reports_zero(app: Flask, runner: Any) -> None:
    assert not upload_dir(app).exists()

    result = runner.invoke(args=["attachments", "gc"])

    assert result.exit_code == 0, result.output
    assert "Removed 0 orphaned file(s)" in result.output
