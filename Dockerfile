# syntax=docker/dockerfile:1
# novamem server image: build with `docker build -t novamem:0.1.0 .` from the repository root.
# It never starts the embedded PostgreSQL: NOVAMEM_DATABASE_URL must point at PostgreSQL with pgvector
# (deploy/compose runs one). Details: docs/deploy.md.

# Python 3.11.14 on Debian bookworm (slim), pinned by tag and by the digest of its multi-architecture index.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

# ---- build: a virtual environment with novamem and exactly its locked runtime dependencies ----------------
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY src ./src
COPY deploy/image/install.sh ./deploy/image/install.sh
# the venv lives at the same path in both stages (its scripts name their interpreter by absolute path)
RUN bash deploy/image/install.sh /opt/novamem /src

# ---- runtime: the venv and an unprivileged user; no compilers, no pip, no sources ----------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG NOVAMEM_VERSION=0.1.0
LABEL org.opencontainers.image.title="novamem" \
      org.opencontainers.image.description="Self-hosted long-term memory server for AI agents" \
      org.opencontainers.image.version="${NOVAMEM_VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-bookworm"
RUN groupadd --system --gid 10001 novamem \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/novamem --no-create-home \
       --shell /usr/sbin/nologin novamem \
    && mkdir -p /var/lib/novamem \
    && chown 10001:10001 /var/lib/novamem \
    && python -m pip uninstall --quiet --yes pip setuptools wheel
COPY --from=build /opt/novamem /opt/novamem
ENV PATH="/opt/novamem/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HF_HUB_OFFLINE=1 \
    NOVAMEM_HOST=0.0.0.0 \
    NOVAMEM_PORT=7778 \
    NOVAMEM_DATA_DIR=/var/lib/novamem \
    NOVAMEM_REQUIRE_EXTERNAL_DATABASE=1
USER 10001:10001
WORKDIR /var/lib/novamem
EXPOSE 7778
# uvicorn stops on SIGTERM: it stops accepting, lets requests in flight finish (MCP streams get 5 s),
# flushes metrics and closes the pool; give it `docker stop -t 15` / terminationGracePeriodSeconds >= 15
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('NOVAMEM_PORT', '7778') + '/ready', timeout=4)"]
ENTRYPOINT ["novamem", "serve"]
