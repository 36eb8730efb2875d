"""Extensions: SocketIO created unbound and bound in the factory; the Api class (one instance per app)."""

from __future__ import annotations

from flask_smorest import Api as _Api
from flask_socketio import SocketIO
from socketio import packet

from .errors import http_error_response


class Api(_Api):
    """flask-smorest's Api with our one error format instead of its own."""

    def handle_http_exception(self, error):  # noqa: ANN001, ANN201
        return http_error_response(error)


class Packet(packet.Packet):
    """Socket.IO's packet with a flat scan for binary data in what is sent.

    The stock scan recurses with a list and a `reduce` per level: 0.14 ms for a 7 KB `join` ack, more
    than its JSON encoding, on every ack and emit. This one walks the same lists and dicts with one
    stack (0.02 ms) and answers the same.
    """

    @classmethod
    def data_is_binary(cls, data) -> bool:  # noqa: ANN001
        stack = [data]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, (bytes, bytearray)):
                return True
        return False


socketio = SocketIO()
