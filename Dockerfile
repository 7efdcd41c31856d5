# Mastering Trainer: the web app and API.
#   Build: docker build -t mastering-trainer .
#   Run:   docker run -p 8000:8000 -v mt-data:/app/var mastering-trainer
# BASE_IMAGE is any Debian-like image with python3 (and its venv module): python:3.11-slim by
# default; CI builds one from Debian's packages (ops/base-image.sh), since no registry is reachable.
# Behind a TLS-inspecting proxy, give pip the proxy's CA bundle as a BuildKit secret; pip alone
# reads it and it is never written into a layer:
#   DOCKER_BUILDKIT=1 docker build --secret id=pip_ca,src=/etc/ssl/certs/ca-certificates.crt .
# PIP_INDEX_URL (build argument) points pip at another index or mirror.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
ARG PIP_INDEX_URL=https://pypi.org/simple
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=120
RUN python3 -m venv /opt/venv
# Exactly the locked releases, checked against their hashes (make lock writes the file).
COPY requirements.lock /tmp/requirements.lock
RUN --mount=type=secret,id=pip_ca,required=false \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    /opt/venv/bin/pip install --retries 5 --index-url "$PIP_INDEX_URL" \
        --require-hashes --no-deps --only-binary :all: -r /tmp/requirements.lock
# A dependency added to pyproject.toml but not yet locked (make lock) is installed on top; the
# locked ones are already satisfied. The project itself is not kept: the code runs from /app.
COPY pyproject.toml README.md /tmp/project/
RUN --mount=type=secret,id=pip_ca,required=false \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    mkdir -p /tmp/project/app && touch /tmp/project/app/__init__.py \
    && /opt/venv/bin/pip install --retries 5 --index-url "$PIP_INDEX_URL" '/tmp/project[postgres]' \
    && /opt/venv/bin/pip uninstall --yes mastering-trainer && /opt/venv/bin/pip check

FROM ${BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app
# ffmpeg makes the Opus previews of a class's kept audio (without it they answer 503).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
# The code runs from /app (templates, static files, models and migrations sit beside it), not
# installed; `mastering-trainer` is the same command line as in a checkout.
RUN printf '#!/bin/sh\nexec python -m app.cli "$@"\n' > /opt/venv/bin/mastering-trainer \
    && chmod 755 /opt/venv/bin/mastering-trainer \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var && chown app:app /app/var

WORKDIR /app
COPY alembic.ini pyproject.toml ./
COPY migrations ./migrations
COPY models ./models
COPY static ./static
COPY templates ./templates
COPY app ./app

# Run as an unprivileged user; only var/ (the SQLite database, kept audio) is writable.
USER app
VOLUME ["/app/var"]

# Every setting comes from the environment (README, "Settings"): DATABASE_URL, DEFAULT_MODEL,
# MAX_UPLOAD_MB, MAX_CONCURRENT_ANALYSES, MAX_QUEUED_ANALYSES, ...
ENV DATA_DIR=/app/var \
    MODELS_DIR=/app/models
EXPOSE 8000

# Liveness: the process answers (it does not depend on the database; /readyz does).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]

# `serve` migrates the database (alembic upgrade head), then runs uvicorn; with --no-migrate it
# only serves (compose runs the migration once, in its own service).
CMD ["mastering-trainer", "serve", "--host", "0.0.0.0", "--port", "8000"]
