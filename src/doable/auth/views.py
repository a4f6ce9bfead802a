"""Account pages: register, log in and out, change email or password, delete the account."""

from __future__ import annotations

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from doable.auth import service
from doable.auth.api import auth_rate_limit
from doable.auth.forms import (
    AccountForm,
    DeleteAccountForm,
    LoginForm,
    RegisterForm,
    ThemeForm,
    TimeForm,
)
from doable.auth.models import User
from doable.auth.schemas import LoginCreate, UserCreate, UserDelete, UserUpdate
from doable.errors import Conflict, TooManyRequests, Unauthorized, ValidationFailed
from doable.extensions import limiter
from doable.web import Page
from doable.web.forms import ConfirmForm
from doable.web.session import login_required, safe_next, sign_in, sign_out, signed_in_user

bp = Blueprint("auth", __name__)
#: The API's login/register limit, counted in the same bucket (scope ``auth``): the
#: pages are one more door to the same passwords. Only submissions count.
auth_limit = limiter.shared_limit(auth_rate_limit, scope="auth", methods=["POST"])


@bp.get("/")
def index() -> Page:
    return redirect(url_for("web.tasks.index" if signed_in_user() else ".login"))


@bp.route("/register", methods=["GET", "POST"])
@auth_limit
def register() -> Page:
    if signed_in_user():
        return redirect(url_for("web.tasks.index"))
    form = RegisterForm()
    if not form.is_submitted():
        return render_template("auth/register.html", form=form)
    data = form.validate_with(UserCreate(), form.account_fields())
    if data is not None:
        try:
            user = service.register_user(**data)
        except Conflict as exc:
            form.add_errors(exc.extra.get("errors") or {"username": [exc.detail]})
        else:
            sign_in(service.open_session_for(user=user))
            flash(f"Welcome, {user.username}! Your account is ready.", "success")
            return redirect(url_for("web.tasks.index"))
    return render_template("auth/register.html", form=form), 400


@bp.route("/login", methods=["GET", "POST"])
@auth_limit
def login() -> Page:
    target = safe_next(request.args.get("next"))
    if signed_in_user():
        return redirect(target or url_for("web.tasks.index"))
    form = LoginForm()
    if not form.is_submitted():
        return render_template("auth/login.html", form=form, target=target)
    credentials = form.validate_with(LoginCreate(), form.credentials())
    if credentials is not None:
        try:
            auth_session = service.open_session(**credentials, browser_zone=form.browser_zone())
        except Unauthorized as exc:
            form.form_errors.append(f"{exc.detail}: check your email or username and password.")
        except TooManyRequests as exc:
            wait = exc.headers["Retry-After"]
            form.form_errors.append(f"{exc.detail}: try again in {wait} seconds.")
            page = make_response(render_template("auth/login.html", form=form, target=target))
            page.status_code = 429
            page.headers.update(exc.headers)
            return page
        else:
            sign_in(auth_session)
            return redirect(target or url_for("web.tasks.index"))
    return render_template("auth/login.html", form=form, target=target), 400


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Page:
    form = ConfirmForm()
    if form.validate_on_submit():
        sign_out()
        flash("You are logged out.", "success")
        return redirect(url_for(".login"))
    if not signed_in_user():
        return redirect(url_for(".login"))
    return render_template(
        "confirm.html",
        form=form,
        question="Log out?",
        consequence="You will need your password to come back.",
        button="Log out",
        cancel=url_for("web.tasks.index"),
    )


@bp.route("/account", methods=["GET", "POST"])
@auth_limit  # a submission checks the current password: limited like login
@login_required
def account(user: User) -> Page:
    form = AccountForm(data={"email": user.email})
    if not form.is_submitted():
        return _account_page(user, form=form)
    changes = form.changes(user.email)
    if set(changes) == {"current_password"}:
        flash("Nothing to change.", "info")
        return redirect(url_for(".account"))
    data = form.validate_with(UserUpdate(), changes)
    if data is not None:
        try:
            service.update_account(user=user, **data)
        except (ValidationFailed, Conflict) as exc:
            form.add_errors(exc.extra.get("errors") or {"email": [exc.detail]})
        else:
            if "password" in data:  # that ended every login, this one too: open a new one
                sign_in(service.open_session_for(user=user))
            flash("Your account is updated.", "success")
            return redirect(url_for(".account"))
    return _account_page(user, form=form), 400


@bp.post("/account/time")
@login_required
def account_time(user: User) -> Page:
    """The time zone, reminder channels and digest time: no password, no login limit."""
    form = TimeForm()
    data = form.validate_with(UserUpdate(), form.preferences())
    if data is None:
        return _account_page(user, time_form=form), 400
    service.update_preferences(user=user, **data)
    flash("Your time and reminder settings are saved.", "success")
    return redirect(url_for(".account"))


@bp.post("/account/theme")
@login_required
def account_theme(user: User) -> Page:
    """The pages' theme, from the account page or the header's switch (back to the page
    it was on: ``next``); the page itself shows the change, so nothing is flashed. The
    switch's script asks for JSON and is answered 204 once saved: a redirect it sees is
    the login page's (static/theme.js)."""
    form = ThemeForm()
    data = form.validate_with(UserUpdate(), form.preferences())
    if data is None:
        return _account_page(user, theme_form=form), 400
    service.update_preferences(user=user, **data)
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == (
        "application/json"
    ):
        return "", 204
    return redirect(safe_next(form.next.data) or url_for(".account", _anchor="appearance"))


def _account_page(
    user: User,
    *,
    form: AccountForm | None = None,
    time_form: TimeForm | None = None,
    theme_form: ThemeForm | None = None,
) -> str:
    """The account page with its forms, any one of them as it was sent (with errors)."""
    return render_template(
        "auth/account.html",
        form=form or AccountForm(data={"email": user.email}),
        time_form=time_form or TimeForm.of(user),
        theme_form=theme_form or ThemeForm(data={"theme": user.theme}),
    )


@bp.route("/account/delete", methods=["GET", "POST"])
@auth_limit  # a submission checks the current password: limited like login
@login_required
def delete_account(user: User) -> Page:
    form = DeleteAccountForm()
    if not form.is_submitted():
        return render_template("auth/delete.html", form=form)
    data = form.validate_with(UserDelete(), form.confirmation())
    if data is not None:
        try:
            service.delete_account(user=user, **data)
        except ValidationFailed as exc:
            form.add_errors(exc.extra["errors"])
        else:
            session.clear()
            flash("Your account and everything in it are deleted.", "success")
            return redirect(url_for(".login"))
    return render_template("auth/delete.html", form=form), 400
