# secbot as a long-lived service: `docker build -t secbot .` then run with the environment of
# .env.example (see docs/operating.md). The command is `node dist/app.js`; `node dist/cli/main.js doctor`
# checks a deployment from inside the same image.

# --- build: all dependencies, compile TypeScript, copy the bundled rules and samples next to it ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# --- runtime: production dependencies only, no compiler, not root ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The embedded table's data (only used without AWS configuration) and the audit trail file, if
# SECBOT_AUDIT_FILE points there: both writable by the app user.
RUN mkdir -p /app/.secbot /var/log/secbot && chown node:node /app/.secbot /var/log/secbot
USER node
# Socket Mode: secbot opens its own connection to Slack; it listens on no port.
CMD ["node", "dist/app.js"]
