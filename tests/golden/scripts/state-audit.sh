mkdir -p /srv/kc/log && printf '%s\n' 'ligne d'"'"'audit' >> /srv/kc/log/audit.log
