# syntax=docker/dockerfile:1
# The hook image of qdrant-upgrade-guard: Node 20 and one bundled file, nothing else.
#
# Base: gcr.io/distroless/nodejs20-debian12 -- Node and glibc only: no shell, no package manager, no
# /usr/bin/env. The chart runs `command: ["qdrant-upgrade-guard"]`, so the image provides that name:
# /usr/local/bin/qdrant-upgrade-guard is a symlink to /app/qdrant-upgrade-guard.mjs, whose shebang is
# rewritten here from `#!/usr/bin/env node` (right on a laptop, but there is no env here) to the image's
# absolute `#!/nodejs/bin/node`. Node resolves the symlink to the .mjs path, so the file loads as ESM.
# `node` is also linked onto PATH. Runs as uid/gid 1000 (Qdrant's user, so archives on the storage
# volume stay readable by Qdrant); the chart sets runAsUser too.

# ---- build: install pinned dependencies and bundle hook/cli.ts into one file
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.mjs scripts/bundle.mjs
COPY hook/ hook/
RUN node scripts/bundle.mjs \
 && mkdir -p /out/app /out/usr/local/bin \
 && sed '1s|^#!.*$|#!/nodejs/bin/node|' dist/qdrant-upgrade-guard.mjs > /out/app/qdrant-upgrade-guard.mjs \
 && chmod 0555 /out/app/qdrant-upgrade-guard.mjs \
 && ln -s /app/qdrant-upgrade-guard.mjs /out/usr/local/bin/qdrant-upgrade-guard \
 && ln -s /nodejs/bin/node /out/usr/local/bin/node

# ---- run: distroless Node 20, the bundle, a non-root user
FROM gcr.io/distroless/nodejs20-debian12:nonroot
LABEL org.opencontainers.image.title="qdrant-upgrade-guard" \
      org.opencontainers.image.description="Guards helm upgrade of Qdrant: raft-state checks, archives, convergence verification" \
      org.opencontainers.image.licenses="Apache-2.0"
# A directory copy keeps the two symlinks as symlinks.
COPY --from=build /out/ /
ENV PATH=/usr/local/bin:/nodejs/bin:/usr/bin:/bin \
    NODE_ENV=production
USER 1000:1000
WORKDIR /app
ENTRYPOINT ["/nodejs/bin/node", "/app/qdrant-upgrade-guard.mjs"]
CMD ["--help"]
