# syntax=docker/dockerfile:1
# The sidecar image: node, the C/C++ runtime it links against, CA certificates, a
# non-root user and the bundled program. No shell, no package manager.
#
# Multi-arch without emulation: the bundle is plain JavaScript, so the build stage runs
# on the build machine's platform; the runtime files are taken, not run, from the
# target platform's Node image.
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg VERSION=0.1.0 --build-arg SOURCE=https://github.com/OWNER/REPO \
#     --build-arg REVISION=$(git rev-parse HEAD) -t REGISTRY/nlb-sidecar-for-ecs:0.1.0 --push .
#
# Base images: both stages use the same Node LTS image, pinned by digest (Dependabot
# proposes new tags and digests). To pin a new tag by hand: scripts/image/pin-bases.sh.
# Its Node version must match the node-linux-* packages in package.json, which the tests
# and the bench run on (scripts/image/check.sh fails otherwise).

# The target platform's Node image: its files are copied, nothing of it runs here.
FROM docker.io/library/node:26.12.1-trixie-slim AS node

FROM --platform=$BUILDPLATFORM docker.io/library/node:26.12.1-trixie-slim AS build
WORKDIR /build
COPY package.json package-lock.json .npmrc ./
# No install scripts: everything installed is pinned by the lock file.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.ts scripts/
COPY scripts/image/elf.ts scripts/image/rootfs.ts scripts/image/
COPY src src
RUN npm run build
# The SBOM of the npm packages, from the lock file (reproducible: no timestamp or random serial).
RUN npx --no-install cyclonedx-npm --omit dev --package-lock-only --spec-version 1.6 --output-reproducible \
      --output-format JSON --output-file /tmp/npm.cdx.json
# The runtime root, assembled from the target's image: node (symbols stripped), the
# libraries it links against with their dpkg metadata, /etc/passwd, CA certificates,
# /tmp; and the image's SBOM (npm packages in the bundle, node, Debian packages).
COPY --from=node / /target/
RUN node scripts/image/rootfs.ts --target /target --out /rootfs --npm-sbom /tmp/npm.cdx.json \
      --bundle-meta dist/meta.json --sbom /build/sbom.cdx.json \
    && rm -rf /target
# Source maps stay out: node reads them only with --enable-source-maps, which the
# image does not set (it parses the map at startup); meta.json is a build report.
RUN rm -f dist/*.map dist/chunks/*.map dist/meta.json

FROM scratch
ARG VERSION=0.1.0
ARG SOURCE=""
ARG REVISION=""
LABEL org.opencontainers.image.title="nlb-sidecar-for-ecs" \
      org.opencontainers.image.description="Stops an ECS task early and gracefully when its load balancer target starts draining" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /rootfs/ /
COPY --from=build /build/dist /app/dist
COPY --from=build /build/sbom.cdx.json /app/sbom.cdx.json
ENV PATH=/usr/local/bin
ENV NODE_ENV=production
# Memory over speed, each measured by `npm run bench` (docs/performance.md): a 1 MiB young
# generation; no JIT compilers (their code is never paged in; polling is interpreter work);
# gc exposed, for a full collection every 30 polling intervals (src/layers/HeapCollection.ts);
# one malloc arena, and blocks of 32 KiB or more (V8's compiler zones at startup) mapped and
# unmapped on their own, so that freed startup memory goes back to the kernel.
ENV NODE_OPTIONS="--max-semi-space-size=1 --jitless --expose-gc"
ENV MALLOC_ARENA_MAX=1
ENV MALLOC_MMAP_THRESHOLD_=32768
WORKDIR /app
# node (uid 1000), as in the official Node images; numeric, so that runAsNonRoot-style checks can verify it.
USER 1000:1000
# Exec form: node is PID 1 and receives ECS's SIGTERM itself. The kernel drops
# signals PID 1 has no handler for, so the sidecar's own handler (Effect's
# runMain) is what stops it with exit 0; scripts/image/check.sh checks that.
# V8 flags NODE_OPTIONS does not accept: a small first old-generation limit and
# memory-first heap growth, so that startup garbage is collected before the heap grows.
ENTRYPOINT ["/usr/local/bin/node", "--optimize-for-size", "--initial-old-space-size=4", "/app/dist/main.js"]
CMD ["run"]
