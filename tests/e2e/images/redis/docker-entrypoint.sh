#!/bin/sh
# kce2e Redis: the contract of the image's docker-entrypoint.sh (docker-library/redis, 7.4
# debian): a first argument that is an option or ends in ".conf" becomes `redis-server ...`;
# redis-server started as root drops to the redis user (uid/gid 999, as in the image) after
# giving it the data folder; umask 0077.
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid=redis --regid=redis --clear-groups "$0" "$@"
fi
if [ "$(umask)" = '0022' ]; then
	umask 0077
fi
exec "$@"
