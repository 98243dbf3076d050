"""Request parameters a view can trust: text without NUL bytes, UTF-8 only, bounded numbers.

`RequestParamsMiddleware` refuses, for every page and API operation, a path or query string
whose decoded text is not UTF-8 or holds a NUL byte (PostgreSQL cannot store one, and no
name, slug or filter of Chorus contains one): a 400 with a message (the API's error body
under /api/). `bounded_int` reads a whole number within a range with a sentence for the user
(the API's paging uses it).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from django.core.exceptions import BadRequest
from django.http import JsonResponse

# The largest id PostgreSQL's bigint holds (every primary key of Chorus is one).
BIGINT_MAX = 2**63 - 1


def bounded_int(raw, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int:
    """`raw` as an int within [minimum, maximum], else ValueError with a readable sentence."""
    text = str(raw).strip()
    if not re.fullmatch(r"[-+]?[0-9]{1,25}", text) or not minimum <= int(text) <= maximum:
        raise ValueError(f"Must be a whole number from {minimum} to {maximum}.")
    return int(text)


def _problem(data: bytes, what: str) -> str:
    """Why these bytes are refused as the text of a request's path or query, or ""."""
    if b"\x00" in data:
        return f"The {what} contains a NUL byte."
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return f"The {what} is not UTF-8 text."
    return ""


class RequestParamsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # WSGI hands the decoded path over as latin-1: its bytes are the client's bytes.
        path = request.META.get("PATH_INFO", "").encode("latin-1", "replace")
        query = unquote_to_bytes(request.META.get("QUERY_STRING", "").replace("+", " "))
        message = _problem(query, "query string") or _problem(path, "address")
        if message:
            if request.path_info.startswith("/api/"):
                return JsonResponse({"error": {"code": "invalid", "message": message}}, status=400)
            raise BadRequest(message)
        return self.get_response(request)


__all__ = ["BIGINT_MAX", "RequestParamsMiddleware", "bounded_int"]
