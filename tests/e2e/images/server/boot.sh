#!/bin/sh
# kce2e "fresh Debian 12 server": what a real server's init does at boot for the services
# kit-collab relies on, since a container has no systemd. Run under tini (PID 1).
#  - cgroups writable (TESTBED.md: the container cannot be --privileged here);
#  - the firewall restored when it was enabled (ufw.service does this at boot on a real server);
#  - the Docker engine started through its init script, so that `service docker restart`
#    (what kit-collab's bootstrap runs when systemd is absent) can stop and start it again;
#  - sshd in the foreground; on SIGTERM the engine is stopped cleanly (its containers stop
#    and come back at the next boot by their restart policy), as a shutdown would.
set -u
for d in /sys/fs/cgroup/*; do
  mount -o remount,bind,rw "$d" 2>/dev/null || true
done
mkdir -p /run/sshd /run/lock
rm -f /run/docker.pid /run/docker-ssd.pid
if [ -x /lib/ufw/ufw-init ] && grep -qs '^ENABLED=yes' /etc/ufw/ufw.conf; then
  /lib/ufw/ufw-init start >/var/log/kce2e-ufw.log 2>&1 || echo "kce2e: ufw start failed" >&2
fi
service docker start >/dev/null 2>&1 || echo "kce2e: docker start failed" >&2

shutdown() {
  service docker stop >/dev/null 2>&1 || true
  kill "$sshd_pid" 2>/dev/null || true
  exit 0
}
trap shutdown TERM INT
/usr/sbin/sshd -D -e &
sshd_pid=$!
echo "kce2e-server: booted" >&2
while kill -0 "$sshd_pid" 2>/dev/null; do
  wait "$sshd_pid" || true
done
