# syntax=docker/dockerfile:1.7
# One image, three roles: `bot`, `worker`, `cli …` (see src/bin/entrypoint.ts).
#   docker build -t eks-access .
#   docker run --rm eks-access cli --help
ARG NODE_IMAGE=node:24-alpine

# ── build: dev dependencies, TypeScript → dist/ ──
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ── production dependencies only ──
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# ── runtime ──
FROM ${NODE_IMAGE}
# tini as PID 1: forwards SIGTERM to node (which then drains BullMQ and Bolt) and reaps zombies.
RUN apk add --no-cache tini \
  && addgroup -S -g 10001 eks-access \
  && adduser -S -D -H -u 10001 -G eks-access eks-access
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json policy.example.yaml ./
# Numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 9464 3000
ENTRYPOINT ["/sbin/tini", "--", "node", "--enable-source-maps", "dist/bin/entrypoint.js"]
CMD ["cli", "--help"]
