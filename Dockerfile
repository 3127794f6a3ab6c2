# syntax=docker/dockerfile:1
# The Timebox operator image: compiled JavaScript and production dependencies only,
# on a distroless Node.js 24 base that runs as a non-root user and has no shell.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the image's own Node.js 24 replaces the `node` devDependency.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY src ./src
COPY hack/build.ts ./hack/
# A bundled, tree-shaken build (hack/build.ts, with the portal's static files):
# it loads in a third of the CPU time of tsc's thousand files. Dependencies it
# leaves out of the bundle (cloud SDKs, email), loaded only when used, stay in
# node_modules.
RUN node hack/build.ts \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# The operator reads nothing else at run time; crds/ and config/ are installed by the chart.
USER 65532:65532
EXPOSE 8080 8081
ENV NODE_ENV=production
# A small young generation, V8 favouring memory over speed, and no optimising
# compilers (--lite-mode): the operator waits on the API server far more than it
# computes. Measured with `npm run bench -- scale` (docs/performance.md): idle RSS
# about 86 MiB instead of 100, and 100 MiB instead of 129 with 2,000 active grants,
# for about 20 ms of CPU per grant instead of 16 to 18. The old generation's limit
# comes from the chart (NODE_OPTIONS, from the memory limit).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=2", "--optimize-for-size", "--lite-mode", "dist/main.js"]
