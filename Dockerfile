# syntax=docker/dockerfile:1
# Switchyard's image: built in one stage, run from a slim one as the unprivileged `node` user,
# under tini (signals reach node, zombies are reaped), with a health check on /healthz.
#   docker build -t switchyard .
#   docker run --rm -p 8080:8080 -e SWITCHYARD_MASTER_KEY=sk-... \
#     -v "$PWD/switchyard.yaml:/etc/switchyard/switchyard.yaml:ro" -v switchyard-data:/app/data switchyard
# docs/operations.md#deploying has Compose and Kubernetes.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 compiles from source when no prebuilt binary matches the platform.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Scripts off: `prepare` would build before the sources are copied; the native module is built next.
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY src/ui/assets ./src/ui/assets
# The SQLite default (sqlite:./data/switchyard.db) and the runtime's key file live in /app/data.
RUN mkdir -p /app/data /etc/switchyard && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/switchyard.js"]
CMD ["serve", "--config", "/etc/switchyard/switchyard.yaml"]
