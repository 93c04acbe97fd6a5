# The runner builds this file at "Set up job" for `uses: OWNER/REPO@main` and
# `uses: ./`; releases point action.yml at a prebuilt image instead (README,
# "Cold start"). No `# syntax=` line: it would make BuildKit pull a frontend
# image from Docker Hub on every job.
#
# GO_IMAGE is the toolchain image, a build argument so that a build without
# Docker Hub can supply its own (container_test.go does).
ARG GO_IMAGE=golang:1.26-bookworm

# Build stage: runs on the builder's own platform and cross-compiles for the
# target, so a multi-platform build never emulates the compiler. Modules come
# first, so the layer with downloaded modules is reused as long as go.mod and
# go.sum do not change.
FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG TARGETOS TARGETARCH
# Passed through from the build's --build-arg when set, for a module proxy or
# flags of the builder's own; unset, Go's defaults apply.
ARG GOPROXY GOFLAGS
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Every file the binary embeds (//go:embed) must be copied here and admitted
# by .dockerignore; container_test.go checks both.
COPY main.go action.yml ./
COPY internal/ ./internal/
# The build cache is a BuildKit cache mount: a runner starts without one
# either way, but repeated builds on one engine (the tests, a developer's
# machine) then compile only what changed.
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH GOCACHE=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/publish-action .

# Final stage: the static binary and TLS roots, nothing else. GitHub runs a
# container action as root with the workspace as working directory, so there
# is no USER and no WORKDIR here (GitHub docs, "Dockerfile support for GitHub
# Actions").
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/publish-action /publish-action
ENTRYPOINT ["/publish-action"]
