# syntax=docker/dockerfile:1.7
# One image, three roles: `bot`, `worker`, `cli …` (see src/bin/entrypoint.ts).
#   docker build -t eks-access .                     (or: bash scripts/image/build.sh, with buildah)
#   docker run --rm eks-access cli --help
# Built and smoke-tested by `npm test` (scripts/image/smoke.sh) on a locally assembled stand-in for
# node:24-bookworm-slim (scripts/image/base.sh), passed in as NODE_IMAGE.
ARG NODE_IMAGE=node:24-bookworm-slim

# ── build: dev dependencies, TypeScript → dist/ ──
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund --update-notifier=false
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ── production dependencies only ──
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# TypeScript sources and declarations, source maps and docs of dependencies are never loaded at run time
# (licences stay).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --update-notifier=false \
  && npm cache clean --force 2>/dev/null \
  && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \
       -o -iname 'README*' -o -iname 'CHANGELOG*' -o -iname 'HISTORY*' \) -delete

# ── runtime ──
FROM ${NODE_IMAGE}
# tini as PID 1: forwards SIGTERM to node (which then drains BullMQ and Bolt) and reaps zombies.
# fonts-dejavu-core: the weekly summary's chart is drawn in the worker, and its labels need a font.
# The user is created with a fixed id and no home; apt's lists go in the same layer they came in.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini fonts-dejavu-core \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
  && groupadd --system --gid 10001 eks-access \
  && useradd --system --no-log-init --uid 10001 --gid eks-access --home-dir /nonexistent \
       --shell /usr/sbin/nologin eks-access
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json policy.example.yaml ./
# Numeric user, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 9464 3000
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--enable-source-maps", "dist/bin/entrypoint.js"]
CMD ["cli", "--help"]
