"""Static files storage: WhiteNoise's hashed, compressed copies, made by `collectstatic`."""

from __future__ import annotations

from whitenoise.compress import Compressor
from whitenoise.storage import CompressedManifestStaticFilesStorage


def _without_source_maps(patterns):
    def keep(pattern) -> bool:
        regex = pattern[0] if isinstance(pattern, tuple) else pattern
        return "sourceMappingURL" not in regex

    return tuple((glob, tuple(p for p in found if keep(p))) for glob, found in patterns)


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """Content-hashed names (cached forever by browsers) and gzip copies, served by WhiteNoise.

    Vendored bundles (static/vendor/) name source maps that are not shipped; Django would refuse
    to collect them for that, so `sourceMappingURL` comments are left as they are (a browser
    only fetches a map when its developer tools are open).
    """

    patterns = _without_source_maps(CompressedManifestStaticFilesStorage.patterns)

    def create_compressor(self, **kwargs) -> Compressor:
        # gzip only: Brotli (installed with the load generator's HTTP client) took over a
        # minute of CPU at maximum quality on a two-core machine, making `make run` slow to
        # start; gzip serves every browser.
        return Compressor(use_brotli=False, **kwargs)
