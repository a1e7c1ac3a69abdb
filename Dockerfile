# syntax=docker/dockerfile:1
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/data/bot.sqlite3

WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . \
    && useradd --create-home --uid 10001 bot \
    && mkdir /data \
    && chown bot /data

USER bot
# SQLite (the default storage) lives here; mount a volume to keep it across restarts.
VOLUME ["/data"]
EXPOSE 8080
# Settings come from the environment (docker run --env-file .env ...).
CMD ["python", "-m", "bot"]
