#!/bin/sh
# kce2e registry: Debian's docker-registry (distribution 2.8) serving the images built here.
# The same storage is served twice: on :5000, the registry mirror that kit-collab's bootstrap
# gives the server's engine (Docker Hub names: library/postgres, matrixdotorg/synapse, ...);
# on :80, under the name ghcr.io (the server resolves ghcr.io to this container), for Jitsi.
set -eu
REGISTRY_HTTP_ADDR=:5000 docker-registry serve /etc/docker/registry/config.yml &
REGISTRY_HTTP_ADDR=:80 docker-registry serve /etc/docker/registry/config.yml &
wait
