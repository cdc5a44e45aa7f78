# One image for the five services; each compose service picks its entry point.
# Stage 1: dependencies from the lockfile.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/api-gateway/package.json apps/api-gateway/
COPY apps/registry-service/package.json apps/registry-service/
COPY apps/credential-service/package.json apps/credential-service/
COPY apps/sandbox-service/package.json apps/sandbox-service/
COPY apps/agent-runner/package.json apps/agent-runner/
COPY apps/console/package.json apps/console/
COPY libs/contracts/package.json libs/contracts/
COPY libs/messaging/package.json libs/messaging/
COPY libs/config/package.json libs/config/
COPY libs/database/package.json libs/database/
COPY libs/logging/package.json libs/logging/
COPY libs/bootstrap/package.json libs/bootstrap/
COPY libs/testing/package.json libs/testing/
COPY libs/platform-crypto/package.json libs/platform-crypto/
COPY libs/mcp-bridge/package.json libs/mcp-bridge/
COPY libs/mcp-packages/package.json libs/mcp-packages/
COPY libs/credential-client/package.json libs/credential-client/
COPY libs/agent-config/package.json libs/agent-config/
COPY libs/egress/package.json libs/egress/
COPY libs/client/package.json libs/client/
RUN npm ci --no-audit --no-fund

# Stage 2: compile, then drop the dev dependencies.
FROM deps AS build
COPY . .
# The services, and the web console the gateway serves at /console (apps/console/dist).
RUN node scripts/build.js && npm run build:console && npm prune --omit=dev --no-audit --no-fund

# Stage 3: the MCP servers' packages, each in its own folder (installed ahead, never at deploy time).
FROM node:20-bookworm-slim AS mcp-packages
WORKDIR /app
COPY mcp-packages ./mcp-packages
RUN for dir in mcp-packages/*/; do (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts); done

# Stage 4: the runtime, as the unprivileged "node" user.
FROM node:20-bookworm-slim AS runtime
RUN apt-get update \
  && apt-get install -y --no-install-recommends bubblewrap \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --from=build --chown=root:root /app/apps/console/package.json ./apps/console/package.json
COPY --from=build --chown=root:root /app/apps/console/dist ./apps/console/dist
COPY --from=build --chown=root:root /app/scripts/healthcheck.js ./scripts/healthcheck.js
COPY --from=mcp-packages --chown=root:root /app/mcp-packages ./mcp-packages
RUN mkdir -p /data && chown node:node /data
USER node
ENV DATA_DIR=/data
EXPOSE 3000
CMD ["node", "--enable-source-maps", "dist/apps/api-gateway/src/main.js"]
