"""The portal's REST API (projects, members, tokens) and what every app's API shares.

Importing this package registers the OpenAPI extensions in `schema`.
"""

from __future__ import annotations

from . import schema  # noqa: F401 - registers the token auth scheme with drf-spectacular
