# syntax=docker/dockerfile:1
# Image for the Airbyte destination (also usable as a Singer target through `docker run -i`).
# Invariants checked by integration_tests/packaging.test.ts (no Docker engine is needed for that test).
# Node.js 26 is the current LTS line (LTS since 2026-10-28, end of life 2029-04-30); Node.js 20 reached
# end of life in April 2026. The code itself still runs on Node.js >= 20.11 (package.json engines; the
# tests run it on 20, and @types/node stays at 20 so no newer API slips in). The node 26 images are
# built on Debian 13 (trixie) only.

# ---- build: full toolchain, compiles TypeScript to dist/ ----
FROM node:26-trixie-slim AS build
# /build mirrors the repository root, so paths under dist/ resolve as they do in a checkout.
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
# Only the connector: the emulator and the benchmarks are development tools, and tsc simply finds
# no files for their include patterns here.
COPY src ./src
COPY spec ./spec
RUN npm run build

# ---- runtime: production dependencies and the compiled connector only ----
FROM node:26-trixie-slim
LABEL io.airbyte.name="destination-dynamics365"
LABEL io.airbyte.version="0.1.0"
ENV NODE_ENV=production
WORKDIR /airbyte/integration_code
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Same relative layout as the repository (dist/src next to spec/), because the connector
# locates spec/spec.json relative to its own compiled files.
COPY --from=build /build/dist/src ./dist/src
COPY spec ./spec
# The platform mounts config and catalog under /airbyte and may switch the working directory
# to /source or /dest; the entrypoint therefore uses absolute paths only.
# The user is uid/gid 1000, as in Airbyte's own connector base images, so /airbyte stays writable when
# the platform runs connectors rootless as 1000:1000. The node image's user "node" has that id: it is
# renamed rather than a second user made.
RUN groupmod --new-name airbyte node \
 && usermod --login airbyte --home /airbyte --shell /usr/sbin/nologin node \
 && chown airbyte:airbyte /airbyte
WORKDIR /airbyte
USER airbyte
# The live heap stays small, but V8 sizes its old space from the host's memory and lets garbage
# pile up to 200+ MB before a full collection; 512 MB keeps peak RSS well under 200 MB (docs/benchmarks.md).
# The young generation is capped at 8 MB per semi-space (V8's default is 16), which saves ~16 MB of
# resident memory and costs no throughput in the bench. The bin's shebang sets the same flags.
ENV NODE_OPTIONS="--max-old-space-size=512 --max-semi-space-size=8"
# Request bodies (a few hundred kB each) go back to the system when freed: glibc's malloc would
# otherwise raise its mmap threshold past them and keep their pages (src/main.ts, same setting).
ENV GLIBC_TUNABLES="glibc.malloc.mmap_threshold=131072"
ENV AIRBYTE_ENTRYPOINT="node /airbyte/integration_code/dist/src/main.js"
ENTRYPOINT ["node", "/airbyte/integration_code/dist/src/main.js"]
