#!/bin/sh
# kce2e: as the coturn/coturn image, arguments that are options are given to turnserver.
case "${1:-}" in -*) set -- turnserver "$@" ;; esac
exec "$@"
