"""The ceiling of the tutorial's stack: its JWT check and a small JSON answer, no database.

Served like the baseline (gunicorn, 2 sync workers); bench/run.py reports the baseline's
figures as ratios to this one, as it reports Doable's to bench/ceiling.py.
"""

import os

import jwt
from flask import Flask, jsonify, request

app = Flask(__name__)
app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "your-secret-key-here")


@app.route("/ping", methods=["GET"])
def ping():
    token = request.headers.get("Authorization")
    if not token:
        return jsonify({"message": "Token is missing"}), 401
    try:
        data = jwt.decode(token.split()[1], app.config["SECRET_KEY"], algorithms=["HS256"])
    except (IndexError, jwt.InvalidTokenError):
        return jsonify({"message": "Token is invalid"}), 401
    return jsonify(user=data["user_id"], ok=True)
