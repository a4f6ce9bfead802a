"""The ceiling of our stack: a Flask endpoint that only checks a JWT and answers JSON.

Served by gunicorn with the same settings as ``doable serve``; every Doable figure in
the benchmark is reported as a ratio to this one.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from flask_jwt_extended import JWTManager, get_jwt_identity, jwt_required

from doable.config import JWT_KEY_LABEL, derive_key


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        # Doable signs its tokens with a key derived from SECRET_KEY: verify them the same way
        JWT_SECRET_KEY=derive_key(os.environ["SECRET_KEY"], JWT_KEY_LABEL),
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        # Read by doable.server.Worker, the worker class doable serve runs (run.py)
        REQUEST_HEADER_TIMEOUT=10,
        REQUEST_BODY_TIMEOUT=20,
        REQUEST_BODY_MIN_RATE=1000,
    )
    JWTManager(app)

    @app.get("/ping")
    @jwt_required()
    def ping():  # type: ignore[no-untyped-def]
        return jsonify(user=get_jwt_identity(), ok=True)

    return app
