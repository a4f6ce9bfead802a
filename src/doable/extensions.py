"""Extension objects, created unbound and bound to an app in ``create_app``.

Models and services import from here, never from the app, so there are no cycles.
"""

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api as _SmorestApi
from flask_sqlalchemy import SQLAlchemy

from doable.db import Base
from doable.errors import render_http_exception


class Api(_SmorestApi):
    """flask-smorest's Api with its error handler replaced by our Problem Details renderer."""

    def handle_http_exception(self, error):
        return render_http_exception(error)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
api = Api()
limiter = Limiter(key_func=get_remote_address)
