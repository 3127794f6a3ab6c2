# syntax=docker/dockerfile:1
# The Timebox operator image: compiled JavaScript and production dependencies only,
# on a distroless Node.js 24 base that runs as a non-root user and has no shell.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the image's own Node.js 24 replaces the `node` devDependency.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The portal's static files (HTML, CSS, scripts) are not TypeScript: tsc leaves
# them out, so they are copied next to the compiled portal.
RUN npx tsc -p tsconfig.build.json \
 && cp -r src/portal/static dist/portal/static \
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
ENTRYPOINT ["/nodejs/bin/node", "dist/main.js"]
