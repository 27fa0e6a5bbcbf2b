# The image `uses: ./` builds: one static binary and CA certificates, nothing
# else. Workflows in this repository run the action through it, so they test
# the code of their own commit. Releases do not use this file: release.yml
# builds the published image with oci-assemble itself and points the released
# action.yml at it (docs/release.md).
#
# No "# syntax=" line: the Dockerfile frontend built into BuildKit is enough,
# and the directive would pull docker/dockerfile from Docker Hub on each build.

# The builder, pinned by the digest of the official image's multi-platform
# index, so that every build of a commit compiles with the same toolchain and
# a moved tag cannot change what runs. The digest is the one
# docker-library/repo-info records for golang:1.26-bookworm in
# repos/golang/remote/1.26-bookworm.md (the index `docker pull golang@sha256:`
# names at the top of that file, not a per-platform manifest): Go 1.26.8 on
# Debian bookworm, the index as published on 2026-09-19.
#
# To update: Dependabot (.github/dependabot.yml) proposes the new digest when
# the tag moves. By hand, take the digest from that file again, or from
# `docker buildx imagetools inspect golang:1.26-bookworm` (the "Digest:" line
# of the index), and keep the tag and the digest on one line.
#
# From Docker Hub on purpose: this is a digest-pinned pull of an official
# image, and no other registry documents that it serves the same digests,
# every one of them, for as long. To build from a mirror, pass the same image
# by digest as GO_IMAGE, for example
#   docker build --build-arg GO_IMAGE=mirror.example.com/library/golang:1.26-bookworm@sha256:... .
# GO_IMAGE names a stage by default rather than the image itself because
# Dependabot updates images in FROM lines only, not in ARG defaults.
ARG GO_IMAGE=golang-pinned
FROM golang:1.26-bookworm@sha256:f4191582e1522dfc5980a6bdc0309a756f9697f3e7d0f199c7e26fc82ab324fd AS golang-pinned

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/oci-assemble ./cmd/oci-assemble

# scratch: nothing to pull, nothing to patch. Go reads the CA bundle from
# /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE names another one).
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/oci-assemble /usr/local/bin/oci-assemble
ENTRYPOINT ["/usr/local/bin/oci-assemble"]
