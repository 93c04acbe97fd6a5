# syntax=docker/dockerfile:1
# Build stage: modules first, so the layer with downloaded modules is reused
# as long as go.mod and go.sum do not change.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY internal/ ./internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/publish-action .

# Final stage: the static binary and TLS roots, nothing else. GitHub runs a
# container action as root with the workspace as working directory, so there
# is no USER and no WORKDIR here (GitHub docs, "Dockerfile support for GitHub
# Actions").
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/publish-action /publish-action
ENTRYPOINT ["/publish-action"]
