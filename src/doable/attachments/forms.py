"""The form that attaches a file on a task's page."""

from __future__ import annotations

from flask_wtf.file import FileField

from doable.web.forms import SchemaForm


class UploadForm(SchemaForm):
    file = FileField("File")
