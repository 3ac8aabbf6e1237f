# syntax=docker/dockerfile:1
# The sidecar image: one bundled program on a slim Node 24 LTS base, no package
# manager, running as the unprivileged `node` user.
ARG NODE_IMAGE=node:24.21.0-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
# The `node` devDependency brings the same Node 24 the tests use.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts scripts/
COPY src src
# Source maps stay out: node reads them only with --enable-source-maps, which the
# image does not set (it parses the map at startup); meta.json is a build report.
RUN npm run build && rm -f dist/*.map dist/chunks/*.map dist/meta.json

FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="nlb-sidecar-for-ecs" \
      org.opencontainers.image.description="Stops an ECS task early and gracefully when its load balancer target starts draining" \
      org.opencontainers.image.source="https://github.com/nlb-sidecar-for-ecs/nlb-sidecar-for-ecs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The runtime needs node alone: drop npm, npx, corepack and yarn from the base.
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn*
ENV NODE_ENV=production
# Memory over speed, each measured by `npm run bench` (README, Performance): a 1 MiB young
# generation; no JIT compilers (their code is never paged in; polling is interpreter work);
# gc exposed, for a full collection every 30 polls (src/heap.ts); one malloc arena, and blocks
# of 32 KiB or more (V8's compiler zones at startup) mapped and unmapped on their own, so that
# freed startup memory goes back to the kernel.
ENV NODE_OPTIONS="--max-semi-space-size=1 --jitless --expose-gc"
ENV MALLOC_ARENA_MAX=1
ENV MALLOC_MMAP_THRESHOLD_=32768
WORKDIR /app
COPY --from=build /build/dist ./dist
USER node
# Exec form: node is PID 1 and receives ECS's SIGTERM itself. The kernel drops
# signals PID 1 has no handler for, so the sidecar's own handler (Effect's
# runMain) is what stops it with exit 0; scripts/image/check.sh checks that.
# V8 flags NODE_OPTIONS does not accept: a small first old-generation limit and
# memory-first heap growth, so that startup garbage is collected before the heap grows.
ENTRYPOINT ["node", "--optimize-for-size", "--initial-old-space-size=4", "dist/main.js"]
CMD ["run"]
