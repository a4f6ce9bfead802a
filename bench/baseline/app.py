"""The tutorial's task API, written exactly as its hints say: the baseline of issue 15.

Flask, Flask-SQLAlchemy and PyJWT, werkzeug password hashes, a ``@token_required``
decorator that decodes a 24-hour HS256 JWT and loads the caller with ``User.query.get``,
and ``Task.query.filter_by(...).paginate(...)`` for the list. No index beyond the primary
keys (and the unique columns the tutorial's ``User`` declares). Nothing here is tuned: it
is what the benchmark compares Doable with, side by side (``bench/run.py --configs
tutorial-sqlite``). Served by gunicorn with 2 sync workers::

    DATABASE_URL=sqlite:////tmp/tasks.db SECRET_KEY=... gunicorn -w 2 --chdir bench/baseline app:app
"""

import datetime
import os
from functools import wraps

import jwt
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from werkzeug.security import check_password_hash, generate_password_hash

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "your-secret-key-here")
app.config["SQLALCHEMY_DATABASE_URI"] = os.environ.get("DATABASE_URL", "sqlite:///tasks.db")
app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
db = SQLAlchemy(app)

STATUSES = ("pending", "in_progress", "completed")
PRIORITIES = ("low", "medium", "high")


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), unique=True, nullable=False)
    email = db.Column(db.String(120), unique=True, nullable=False)
    password_hash = db.Column(db.String(200), nullable=False)
    created_at = db.Column(db.DateTime, default=datetime.datetime.utcnow)

    tasks = db.relationship("Task", backref="owner", lazy="dynamic", cascade="all, delete-orphan")

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)


class Task(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    description = db.Column(db.Text)
    status = db.Column(db.String(20), nullable=False, default="pending")
    priority = db.Column(db.String(20), nullable=False, default="medium")
    due_date = db.Column(db.Date)
    created_at = db.Column(db.DateTime, default=datetime.datetime.utcnow)
    updated_at = db.Column(
        db.DateTime, default=datetime.datetime.utcnow, onupdate=datetime.datetime.utcnow
    )
    user_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)

    def to_dict(self):
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": self.status,
            "priority": self.priority,
            "due_date": self.due_date.isoformat() if self.due_date else None,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def token_required(f):
    """Decorator to protect routes with JWT authentication"""

    @wraps(f)
    def decorated(*args, **kwargs):
        token = request.headers.get("Authorization")
        if not token:
            return jsonify({"message": "Token is missing"}), 401
        try:
            token = token.split()[1]  # Remove 'Bearer' prefix
            data = jwt.decode(token, app.config["SECRET_KEY"], algorithms=["HS256"])
            current_user = User.query.get(data["user_id"])
        except (IndexError, KeyError, jwt.InvalidTokenError):
            return jsonify({"message": "Token is invalid"}), 401
        if current_user is None:
            return jsonify({"message": "Token is invalid"}), 401
        return f(current_user, *args, **kwargs)

    return decorated


def apply_fields(task, data):
    """Copy the fields present in ``data`` onto ``task``; an error message, or None."""
    if "status" in data and data["status"] not in STATUSES:
        return "Invalid status"
    if "priority" in data and data["priority"] not in PRIORITIES:
        return "Invalid priority"
    for field in ("title", "description", "status", "priority"):
        if field in data:
            setattr(task, field, data[field])
    if "due_date" in data:
        try:
            task.due_date = (
                datetime.date.fromisoformat(data["due_date"]) if data["due_date"] else None
            )
        except (TypeError, ValueError):
            return "Invalid due_date"
    return None


@app.route("/api/register", methods=["POST"])
def register():
    data = request.get_json(silent=True)
    if not data or not all(data.get(k) for k in ("username", "email", "password")):
        return jsonify({"error": "Missing required fields"}), 400
    if User.query.filter_by(username=data["username"]).first():
        return jsonify({"error": "Username already taken"}), 409
    if User.query.filter_by(email=data["email"]).first():
        return jsonify({"error": "Email already registered"}), 409
    user = User(username=data["username"], email=data["email"])
    user.set_password(data["password"])
    db.session.add(user)
    db.session.commit()
    return jsonify({"message": "User created successfully", "user_id": user.id}), 201


@app.route("/api/login", methods=["POST"])
def login():
    auth = request.get_json(silent=True)
    if not auth or not auth.get("email") or not auth.get("password"):
        return jsonify({"message": "Invalid credentials"}), 401
    user = User.query.filter_by(email=auth["email"]).first()
    if not user or not user.check_password(auth["password"]):
        return jsonify({"message": "Invalid credentials"}), 401
    token = jwt.encode(
        {
            "user_id": user.id,
            "exp": datetime.datetime.utcnow() + datetime.timedelta(hours=24),
        },
        app.config["SECRET_KEY"],
        algorithm="HS256",
    )
    return jsonify({"token": token})


@app.route("/api/tasks", methods=["GET"])
@token_required
def get_tasks(current_user):
    page = request.args.get("page", 1, type=int)
    per_page = request.args.get("per_page", 10, type=int)
    query = Task.query.filter_by(user_id=current_user.id)
    status = request.args.get("status")
    if status:
        query = query.filter_by(status=status)
    priority = request.args.get("priority")
    if priority:
        query = query.filter_by(priority=priority)
    tasks = query.paginate(page=page, per_page=per_page)
    return jsonify(
        {
            "tasks": [task.to_dict() for task in tasks.items],
            "total": tasks.total,
            "page": page,
            "pages": tasks.pages,
        }
    )


@app.route("/api/tasks/<int:task_id>", methods=["GET"])
@token_required
def get_task(current_user, task_id):
    task = Task.query.filter_by(id=task_id, user_id=current_user.id).first_or_404()
    return jsonify(task.to_dict())


@app.route("/api/tasks", methods=["POST"])
@token_required
def create_task(current_user):
    data = request.get_json(silent=True)
    if not data or not data.get("title"):
        return jsonify({"error": "Missing required fields"}), 400
    task = Task(user_id=current_user.id)
    error = apply_fields(task, data)
    if error:
        return jsonify({"error": error}), 400
    db.session.add(task)
    db.session.commit()
    return jsonify(task.to_dict()), 201


@app.route("/api/tasks/<int:task_id>", methods=["PUT"])
@token_required
def update_task(current_user, task_id):
    task = Task.query.filter_by(id=task_id, user_id=current_user.id).first_or_404()
    data = request.get_json(silent=True)
    if not data:
        return jsonify({"error": "No data provided"}), 400
    error = apply_fields(task, data)
    if error:
        return jsonify({"error": error}), 400
    db.session.commit()
    return jsonify(task.to_dict())


@app.route("/api/tasks/<int:task_id>", methods=["DELETE"])
@token_required
def delete_task(current_user, task_id):
    task = Task.query.filter_by(id=task_id, user_id=current_user.id).first_or_404()
    db.session.delete(task)
    db.session.commit()
    return "", 204


@app.errorhandler(404)
def not_found(error):
    return jsonify({"error": "Not found"}), 404


@app.errorhandler(400)
def bad_request(error):
    return jsonify({"error": "Bad request"}), 400


if __name__ == "__main__":
    with app.app_context():
        db.create_all()  # Create tables
    app.run()  # the tutorial's debug=True, left out: a debugger open to the network
