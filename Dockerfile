# The Chorus portal image: web, worker and beat all run from it (see docker-compose.yml).
# Any Debian-based image with Python 3.11+ and pip works, e.g. the offline base made by
# `python manage.py build_base_images` (--build-arg BASE_IMAGE=chorus/python:3-debian).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# pip may be pointed elsewhere for the build only, e.g. a mirror or a local wheel directory:
#   --build-arg PIP_INDEX_URL=https://pypi.example.com/simple
#   --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=http://host:port/wheels/
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_NO_INDEX
ARG PIP_TRUSTED_HOST
# Static files live in the image (not under the data volume), so an upgraded image serves its own.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 CHORUS_VAR_DIR=/var/lib/chorus \
    STATIC_ROOT=/app/staticfiles
# git and CA certificates (the offline base already has both: no package index needed then).
RUN command -v git >/dev/null && test -e /etc/ssl/certs/ca-certificates.crt \
 || { apt-get update \
      && apt-get install -y --no-install-recommends git ca-certificates \
      && rm -rf /var/lib/apt/lists/*; }
WORKDIR /app
COPY pyproject.toml README.md ./
COPY portal ./portal
COPY components ./components
COPY deployments ./deployments
COPY observability ./observability
COPY templates ./templates
COPY static ./static
COPY manage.py Procfile ./
# Hashed, compressed static files for WhiteNoise; the throwaway var dir keeps the development
# secrets that settings generate out of the image.
RUN pip install . \
 && CHORUS_VAR_DIR=/tmp/chorus-build python manage.py collectstatic --noinput \
 && rm -rf /tmp/chorus-build
RUN useradd --system --create-home chorus && mkdir -p /var/lib/chorus && chown chorus /var/lib/chorus
USER chorus
EXPOSE 8000
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
