# Mastering Trainer: the web app and API. Build: docker build -t mastering-trainer .
# Run: docker run -p 8000:8000 -v mt-data:/app/var mastering-trainer
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && echo '__version__ = "0.0.0"' > app/__init__.py \
    && pip install -e '.[postgres]' \
    && rm -rf app

COPY alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY models ./models
COPY static ./static
COPY templates ./templates

# Run as an unprivileged user; only var/ (the SQLite database, kept audio) is writable.
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir -p /app/var && chown app:app /app/var
USER app
VOLUME ["/app/var"]

# Every setting comes from the environment (see app/config.py): DATABASE_URL, MODELS_DIR,
# MAX_UPLOAD_MB, MAX_CONCURRENT_ANALYSES, MAX_QUEUED_ANALYSES, SECRET_KEY, ...
ENV DATA_DIR=/app/var \
    MODELS_DIR=/app/models
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# `serve` is the prestart step (alembic upgrade head) followed by uvicorn.
CMD ["mastering-trainer", "serve", "--host", "0.0.0.0", "--port", "8000"]
