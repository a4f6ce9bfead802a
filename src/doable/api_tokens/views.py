"""The API tokens page: create (the token shown once), list, revoke."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from doable.api_tokens import service
from doable.api_tokens.forms import TokenForm
from doable.api_tokens.schemas import ApiTokenCreate
from doable.auth.models import User
from doable.errors import Conflict
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required

bp = Blueprint("api_tokens", __name__)


@bp.get("/account/tokens")
@login_required
def index(user: User) -> Page:
    return _page(user, TokenForm(formdata=None, data={"lifetime": "90"}))


@bp.post("/account/tokens")
@login_required
def create(user: User) -> Page:
    """The new token is shown in this answer only (never kept in the cookie, which is
    signed, not encrypted): no redirect, and the answer is not cached."""
    form = TokenForm()
    data = form.validate_with(ApiTokenCreate(), form.token_fields())
    if data is not None:
        try:
            issued = service.create_token(user=user, **data)
        except Conflict as exc:  # as many tokens as allowed
            form.form_errors.append(exc.detail or "")
        else:
            fresh = TokenForm(formdata=None, data={"lifetime": "90"})
            return _page(user, fresh, issued=issued)
    return _page(user, form, status=400)


@bp.route("/account/tokens/<int:token_id>/delete", methods=["GET", "POST"])
@login_required
def revoke(user: User, token_id: int) -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():  # the service runs the guard
        revoked = service.revoke_token(user=user, token_id=token_id)
        flash(f"API token “{revoked.name}” revoked: it no longer works.", "success")
        return redirect(url_for(".index"))
    token = service.get_token_for(user=user, token_id=token_id)
    return render_template(
        "confirm.html",
        form=form,
        question=f"Revoke the API token “{token.name}”?",
        consequence=f"Scripts using {token.prefix}… are refused from their next request.",
        button="Revoke token",
        cancel=url_for(".index"),
    )


def _page(
    user: User, form: TokenForm, *, issued: service.IssuedToken | None = None, status: int = 200
) -> tuple[str, int]:
    tokens = service.list_tokens(user=user)
    html = render_template("api_tokens.html", tokens=tokens, form=form, issued=issued)
    return html, status
