"""Task routes (docs/api.md, Tasks): parse, call the service, serialise with an ETag."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request, url_for
from werkzeug.datastructures import ETags
from werkzeug.http import is_resource_modified

from doable.api import IF_MATCH, IF_NONE_MATCH, Blueprint
from doable.api.auth import auth_required, current_user
from doable.tasks import bulk, service
from doable.tasks.schemas import (
    BulkResults,
    OccurrenceChoice,
    OccurrencePage,
    OccurrenceQuery,
    QuickAddText,
    QuickTaskRead,
    TaskBulk,
    TaskCreate,
    TaskListQuery,
    TaskPage,
    TaskRead,
    TaskUpdate,
    body_etag,
    bulk_data,
    page_body,
    quick_task_data,
    series_data,
    task_row_body,
)

bp = Blueprint("tasks", __name__, url_prefix="/api/tasks", description="Tasks")
ETAG_HEADER = {
    "ETag": {"description": "Version of this representation", "schema": {"type": "string"}}
}


def _if_match() -> ETags | None:
    return request.if_match if "If-Match" in request.headers else None


def _task_response(body: bytes, status: int = 200, **headers: str) -> Response:
    """``body``, a task's JSON (``task_body``), with its ETag. A GET is answered 304 (or
    412 for a failed If-Match) by werkzeug's rule, as ``make_conditional`` answers it,
    without the rest of that method: there are no ranges here, and the ``Date`` it adds
    (as long as the comparison, under cProfile) is dropped by gunicorn, which writes
    its own."""
    etag = body_etag(body)
    response = current_app.response_class(body, status, headers, mimetype="application/json")
    response.set_etag(etag)
    if request.method == "GET" and not is_resource_modified(request.environ, etag):
        response.status_code = 412 if request.if_match else 304
    return response


def _task_as_it_is(task_id: int) -> Response:
    """The task as the caller sees it now, read as one row (no ``Task`` is needed)."""
    return _task_response(task_row_body(service.get_task_row(user=current_user, task_id=task_id)))


@bp.get("")
@auth_required(scope="tasks:read")
@bp.arguments(TaskListQuery, location="query", as_kwargs=True)
@bp.response(200, TaskPage)
def list_tasks(**query: Any) -> Response:
    """List the tasks you can see, filtered, sorted and paginated"""
    body = page_body(service.list_task_rows(user=current_user, **query))
    return current_app.response_class(body, mimetype="application/json")


@bp.post("")
@auth_required(scope="tasks:write")
@bp.arguments(TaskCreate)
@bp.response(201, TaskRead, headers=ETAG_HEADER)
def create_task(data: dict[str, Any]) -> Response:
    """Create a task"""
    task = service.create_task(user=current_user, **data)
    return _task_response(task_row_body(task), 201, Location=url_for(".get_task", task_id=task.id))


@bp.post("/parse")
@auth_required(scope="tasks:read")
@bp.arguments(QuickAddText)
@bp.response(200, QuickTaskRead)
def parse_task(data: dict[str, str]) -> dict[str, Any]:
    """Read a line such as `Pay rent tomorrow 9am #home !high` as a task; creates nothing"""
    return quick_task_data(service.parse_quick_add(user=current_user, text=data["text"]))


@bp.post("/bulk")
@auth_required(scope="tasks:write")
@bp.arguments(TaskBulk)
@bp.response(200, BulkResults)
def bulk_action(body: dict[str, Any]) -> Response:
    """Do one action to several tasks: each is checked and committed on its own, and
    answered as its own route would answer (docs/api.md, Bulk actions)"""
    return jsonify(bulk_data(bulk.apply(user=current_user, **body)))


@bp.get("/<int:task_id>")
@auth_required(scope="tasks:read")
@bp.doc(parameters=[IF_NONE_MATCH])
@bp.response(200, TaskRead, headers=ETAG_HEADER)
@bp.alt_response(304, response="NOT_MODIFIED")
@bp.alt_response(404, response="NOT_FOUND")
def get_task(task_id: int) -> Response:
    """Get a task (send If-None-Match to get 304 when it has not changed)"""
    return _task_as_it_is(task_id)


@bp.route("/<int:task_id>", methods=["PUT", "PATCH"])
@auth_required(scope="tasks:write")
@bp.doc(parameters=[IF_MATCH])
@bp.arguments(TaskUpdate)
@bp.response(200, TaskRead, headers=ETAG_HEADER)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(412, response="PRECONDITION_FAILED")
def update_task(changes: dict[str, Any], task_id: int) -> Response:
    """Change some fields of a task (send If-Match to refuse lost updates)"""
    try:
        task = service.update_task(
            user=current_user, task_id=task_id, changes=changes, if_match=_if_match()
        )
    except service.NothingToChange:  # already so: the task as it is, same ETag
        return _task_as_it_is(task_id)
    return _task_response(task_row_body(task))


@bp.delete("/<int:task_id>")
@auth_required(scope="tasks:write")
@bp.doc(parameters=[IF_MATCH])
@bp.response(204)
@bp.alt_response(403, response="FORBIDDEN")
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(412, response="PRECONDITION_FAILED")
def delete_task(task_id: int) -> None:
    """Delete a task (owner only)"""
    service.delete_task(user=current_user, task_id=task_id, if_match=_if_match())


def _moving_on(rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """The route of ``complete`` or ``skip`` (the same body, answers and precondition)."""
    decorators = [
        bp.post(rule),
        auth_required(scope="tasks:write"),
        bp.doc(parameters=[IF_MATCH]),
        bp.arguments(OccurrenceChoice, required=False),
        bp.response(200, TaskRead, headers=ETAG_HEADER),
        bp.alt_response(403, response="FORBIDDEN"),
        bp.alt_response(404, response="NOT_FOUND"),
        bp.alt_response(409, response="CONFLICT"),
        bp.alt_response(412, response="PRECONDITION_FAILED"),
    ]

    def route(view: Callable[..., Response]) -> Callable[..., Response]:
        for decorate in reversed(decorators):
            view = decorate(view)
        return view

    return route


@_moving_on("/<int:task_id>/complete")
def complete_task(choice: dict[str, Any], task_id: int) -> Response:
    """Complete a task; a recurring one moves on to its next occurrence"""
    return _moved_on(service.complete_occurrence, choice, task_id)


@_moving_on("/<int:task_id>/skip")
def skip_occurrence(choice: dict[str, Any], task_id: int) -> Response:
    """Skip a recurring task's current occurrence: it moves on to the next one"""
    return _moved_on(service.skip_occurrence, choice, task_id)


def _moved_on(move_on: Any, choice: dict[str, Any], task_id: int) -> Response:
    try:
        task = move_on(user=current_user, task_id=task_id, if_match=_if_match(), **choice)
    except service.NothingToChange:  # that occurrence is done already: the task as it is
        return _task_as_it_is(task_id)
    return _task_response(task_row_body(task))


@bp.get("/<int:task_id>/occurrences")
@auth_required(scope="tasks:read")
@bp.arguments(OccurrenceQuery, location="query", as_kwargs=True)
@bp.response(200, OccurrencePage)
@bp.alt_response(404, response="NOT_FOUND")
@bp.alt_response(409, response="CONFLICT")
def list_occurrences(task_id: int, limit: int) -> dict[str, Any]:
    """A recurring task's next occurrences, in its zone's local time and in UTC"""
    return series_data(service.get_series(user=current_user, task_id=task_id, limit=limit))
