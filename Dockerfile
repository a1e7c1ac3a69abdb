# syntax=docker/dockerfile:1
# The bot as a non-root service. Stages: deps (the locked dependencies, rebuilt only when
# requirements/ changes), build (the bot's own wheel), runtime (both, nothing else).
#
# Base: Python 3.11, the minor the tests run on (requires-python is >=3.11, and
# requirements/ is resolved from 3.11 up on every platform). Pinned by full version tag and
# by the digest of its multi-platform index, so a rebuild starts from the same layers. To
# move it: docker buildx imagetools inspect python:3.11.X-slim-bookworm (the Digest line).
FROM python:3.11.15-slim-bookworm@sha256:d29f48a31a8b408ed19272ca1e7b10ebae13b240a27e862d3d4217c528e2e0c3 AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

FROM base AS deps
WORKDIR /src
COPY requirements/main.txt requirements/
# Hash-checked: a file that differs from the one locked fails the build.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/main.txt

FROM base AS build
WORKDIR /src
COPY requirements/build.txt requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --no-cache-dir --require-hashes --no-deps -r requirements/build.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
# The locked setuptools builds it: no unpinned build environment is fetched.
RUN /opt/build/bin/pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

FROM base AS runtime
# A fixed numeric id, so the host and volume permissions can name it (hadolint DL3066).
RUN groupadd --gid 10001 bot \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin bot \
    && install -d -o 10001 -g 10001 -m 0750 /data
COPY --from=deps /opt/venv /opt/venv
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    /opt/venv/bin/pip install --no-cache-dir --no-deps --no-index /wheels/*.whl
ENV PATH=/opt/venv/bin:$PATH \
    DATABASE_PATH=/data/bot.sqlite3 \
    HTTP_PORT=8080
# The working directory is the volume too, so a relative DATABASE_PATH (an old .env's
# data/bot.sqlite3) still lands somewhere the bot may write and that outlives the container.
WORKDIR /data
USER 10001:10001
# SQLite (the default storage) lives here; mount a volume to keep it across restarts.
VOLUME ["/data"]
# /livez, /healthz and /metrics always (HTTP_PORT is set above, polling or not), the webhook too.
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-m", "bot.healthcheck"]
# SIGTERM starts a drain: no new updates, photos in flight answered. That takes up to
# PHOTO_DEADLINE_SECONDS (90) plus 15 s of slack = 105 s, longer than docker stop's 10 s:
# run with --stop-timeout 120 (or docker stop -t 120; compose.yaml sets stop_grace_period).
STOPSIGNAL SIGTERM
# Settings come from the environment (docker run --env-file .env ...).
CMD ["python", "-m", "bot"]
