# syntax=docker/dockerfile:1
# Build: compile TypeScript with the full dependency set.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY consumers ./consumers
COPY projections ./projections
COPY cli ./cli
RUN npm run build

# Runtime: production dependencies only, non-root, node as PID 1 so SIGTERM reaches the process
# (the worker finishes its flush, commits and leaves the group before exiting).
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
# The image's node user, by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 1000:1000
EXPOSE 9464
# A 4 MB young-generation semi-space: at full speed V8 otherwise grows it, and a worker's peak RSS
# with it, for no throughput (docs/benchmarks.md; the bench starts workers the same way).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cli/main.js"]
CMD ["worker"]
