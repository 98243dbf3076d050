"""OpenAPI extensions: tell drf-spectacular how ApiTokenAuthentication authenticates."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "portal.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "chorus_…",
            "description": "A personal API token (Account → API tokens, or POST /api/v1/tokens/): "
            "`Authorization: Bearer chorus_…`.",
        }
