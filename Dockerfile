# syntax=docker/dockerfile:1
# The tradeql gateway. Build: docker build -t tradeql .   Run: docker compose up --build (see docker-compose.yml).
# The command defaults to `serve`; `node bin/tradeql.js migrate` and `seed` run in the same image.
# Without DATABASE_URL the gateway starts its embedded PostgreSQL under /app/.tradeql (mount a volume there to keep it).
FROM node:20-bookworm-slim

ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

WORKDIR /app

# Dependencies first, so that a source change reuses this layer.
# patches/: applied to node_modules by npm ci's postinstall (patch-package).
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci && npm cache clean --force

COPY . .
# The browser pages (GraphiQL, the dashboard) are bundled at build time: the running user cannot write /app.
# The gateway runs compiled (dist/, which bin/tradeql.js runs under NODE_ENV=production): no TypeScript loader hooking
# every require() at run time. Production mode also turns introspection and GraphiQL off (GRAPHIQL_ENABLED=true
# turns GraphiQL back on).
RUN npm run build:web && npm run build && mkdir -p /app/.tradeql && chown node:node /app/.tradeql
ENV NODE_ENV=production

# The node image's unprivileged user (uid 1000).
USER node

EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

CMD ["node", "bin/tradeql.js", "serve"]
