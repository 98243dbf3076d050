"""The Docker runtime: builds with the engine's classic builder, runs tasks as containers.

Every call opens its own client (cheap; processes fork, threads come and go) and asks the
engine its API version within `ping_timeout` seconds, so an engine that is down or a
DOCKER_HOST that points nowhere surfaces as `RuntimeUnavailable` in about a second instead
of hanging a build. Long streams (the build output, a container's output) are read in a
thread with no socket timeout; the calling thread enforces the deadline and polls `cancel`,
and aborts by closing the stream (build) or killing the container (run).
"""

from __future__ import annotations
