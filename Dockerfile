# Build: compile TypeScript; run: production dependencies only, as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
RUN npm ci
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npx tsc -p tsconfig.json

FROM node:20-bookworm-slim
ENV NODE_ENV=production OPSBUS_START_NATS=0 CONFIG_DIR=/app/config DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
COPY ops/migrations ./ops/migrations
COPY ops/task_registry.yml ./ops/task_registry.yml
RUN mkdir -p /data && chown node:node /data
USER node
ENTRYPOINT ["node", "--max-semi-space-size=32", "dist/src/cli.js"]
CMD ["start"]
