"""The ceiling of our stack: a Flask endpoint that only checks a JWT and answers JSON.

Served by gunicorn with the same settings as ``doable serve``; every Doable figure in
the benchmark is reported as a ratio to this one.
"""

from __future__ import annotations

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required

from doable.config import instance_path_from_env, load_config


def create_app() -> Flask:
    app = Flask(__name__, instance_path=instance_path_from_env())
    # Doable's settings from the same environment: tokens verified with the key Doable
    # derives from SECRET_KEY, and the read deadlines doable.server.Worker applies (run.py)
    load_config(app)
    JWTManager(app)

    @app.get("/ping")
    @jwt_required()
    def ping():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity(), ok=True)

    return app
