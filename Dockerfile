# Portcullis container image. Build: docker build -t portcullis .   Run: mount a config at /etc/portcullis/.
# docs/container.md explains every choice; test/deploy/dockerfile.test.ts checks the claims made here, and
# test/deploy/production-install.test.ts runs exactly this install and build (same files, same commands) and
# answers a Check.
#
# Node 24 comes from the base image. The image runs dist/main.js, src/ compiled by tsc in the build stage: Node then
# strips no types at start, which saves ~30 MB of resident memory per process and ~200 ms of start-up
# (docs/operations.md). A production install has no `node` devDependency, so the base image's node is the runtime.
# Pin it by digest in your registry if you mirror it.
ARG NODE_IMAGE=node:24-bookworm-slim

# Stage 1: production dependencies only (no vitest, typescript, node devDependency, test tooling).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the build. Every dependency from the lock file (TypeScript and the types are devDependencies), no install
# scripts (nothing here needs one), then `npm run build`: tsc, and the stamp that says which sources dist/ holds.
FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/build.js scripts/dist.js ./scripts/
COPY src ./src
RUN node scripts/build.js

# Stage 3: the runtime: production dependencies, the compiled service and the protos (no src/, no TypeScript). They
# are root-owned and read-only to the service user; nothing is written outside /tmp (the root filesystem may be
# mounted read-only, as deploy/kubernetes/deployment.yaml does).
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORTCULLIS_CONFIG=/etc/portcullis/config.yaml \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY --from=build /build/dist ./dist
COPY proto ./proto
# The `node` user of the official image, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 9001 gRPC ext_authz + gRPC health, 9002 HTTP forward auth, /healthz, /readyz, /metrics (listen.grpc, listen.http).
# The config must listen on 0.0.0.0 (the defaults are loopback): deploy/kubernetes/configmap.yaml does.
EXPOSE 9001 9002
ENTRYPOINT ["node", "--max-semi-space-size=2", "dist/main.js"]
