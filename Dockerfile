# syntax=docker/dockerfile:1
# One image for every Runyard service: `runyard-server ingest|query|auth|artifact|frontdoor|transfer-worker|migrate|gc`.
# Built by `make image` (Docker or Podman) and by skaffold; charts/runyard runs one command per Deployment.
# Non-root (uid 10001), read-only root filesystem at run time (only /tmp is writable), no shell needed.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- 1. the web UI: static files -----------------------------------------------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src/services/web
COPY services/web/package.json services/web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY services/web/ ./
RUN npm run build

# ---- 2. wheels of the wire contract and the services (no SDK: the services never import it) -----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY proto/ proto/
COPY services/pyproject.toml services/
COPY services/runyard_server/ services/runyard_server/
RUN python -m venv /opt/runyard/venv \
 && /opt/runyard/venv/bin/pip install --upgrade pip \
 && /opt/runyard/venv/bin/pip install ./proto ./services \
 && /opt/runyard/venv/bin/python -m compileall -q /opt/runyard/venv
# The SDK wheels the query service serves at /pypi/simple/ (docs/sdk.md, "Installing the SDK"): runyard and
# runyard-proto from this source tree, plus their dependencies for CPython 3.10-3.13 on every platform, so
# `pip install --index-url http://HOST/pypi/simple runyard` works inside a network with no PyPI mirror.
# The SDK is only packaged here, never installed into the services' environment.
# A C compiler for the SDK's optional C packer (runyard._speedups, log()'s hot path): the index then also
# serves a runyard wheel with it for this image's CPython and platform, which pip prefers where it fits, and
# the copy-job worker's SDK below has it. Only this build stage has a compiler; the run-time image does not.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY sdk/ sdk/
RUN /opt/runyard/venv/bin/pip install setuptools wheel \
 && /opt/runyard/venv/bin/runyard-server build-sdk-wheels --source /src --out /opt/runyard/wheels --with-deps \
 && /opt/runyard/venv/bin/pip uninstall --yes setuptools wheel
# The SDK's `runyard` command for the copy-job worker (`runyard-server transfer-worker` runs `runyard transfer`
# as a child process; docs/transfer.md "Copy from the UI"), in a venv of its own: the services' venv still
# holds no SDK, so nothing in the services can import it.
RUN python -m venv /opt/runyard/sdk-venv \
 && /opt/runyard/sdk-venv/bin/pip install --upgrade pip \
 && /opt/runyard/sdk-venv/bin/pip install ./proto ./sdk \
 && /opt/runyard/sdk-venv/bin/python -m compileall -q /opt/runyard/sdk-venv

# ---- 3. run time ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="runyard-server" \
      org.opencontainers.image.description="Runyard services: ingest (gRPC), query, auth, artifact, migrations, object GC" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://runyard.ml.internal/runyard"
RUN groupadd --system --gid 10001 runyard \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin runyard
COPY --from=build /opt/runyard/venv /opt/runyard/venv
COPY --from=web /src/services/web/dist /opt/runyard/web
COPY --from=build /opt/runyard/wheels /opt/runyard/wheels
COPY --from=build /opt/runyard/sdk-venv /opt/runyard/sdk-venv
ENV PATH=/opt/runyard/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    RUNYARD_WEB_DIST=/opt/runyard/web \
    RUNYARD_SDK_WHEELS_DIR=/opt/runyard/wheels \
    RUNYARD_TRANSFER_CLI=/opt/runyard/sdk-venv/bin/runyard
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 8081 9090
ENTRYPOINT ["runyard-server"]
CMD ["--help"]
