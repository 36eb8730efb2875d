"""Extensions: SocketIO created unbound and bound in the factory; the Api class (one instance per app)."""

from __future__ import annotations

from flask_smorest import Api as _Api
from flask_socketio import SocketIO

from .errors import http_error_response


class Api(_Api):
    """flask-smorest's Api with our one error format instead of its own."""

    def handle_http_exception(self, error):  # noqa: ANN001, ANN201
        return http_error_response(error)


socketio = SocketIO()
