# Portcullis container image. Build: docker build -t portcullis .   Run: mount a config at /etc/portcullis/.
# docs/container.md explains every choice; test/deploy/dockerfile.test.ts checks the claims made here, and
# test/deploy/production-install.test.ts runs exactly this install (same files, same npm ci) and answers a Check.
#
# Node 24 comes from the base image: it runs src/*.ts directly (type stripping). A production install has no
# `node` devDependency, so the base image's node is the runtime. Pin it by digest in your registry if you mirror it.
ARG NODE_IMAGE=node:24-bookworm-slim

# Stage 1: production dependencies only (no vitest, typescript, node devDependency, test tooling).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Stage 2: the runtime. Sources and protos are root-owned and read-only to the service user; nothing is written
# outside /tmp (the root filesystem may be mounted read-only, as deploy/kubernetes/deployment.yaml does).
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    PORTCULLIS_CONFIG=/etc/portcullis/config.yaml \
    HOME=/tmp \
    TMPDIR=/tmp
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY proto ./proto
# The `node` user of the official image, by number so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
# 9001 gRPC ext_authz + gRPC health, 9002 HTTP forward auth, /healthz, /readyz, /metrics (listen.grpc, listen.http).
# The config must listen on 0.0.0.0 (the defaults are loopback): deploy/kubernetes/configmap.yaml does.
EXPOSE 9001 9002
ENTRYPOINT ["node", "src/main.ts"]
