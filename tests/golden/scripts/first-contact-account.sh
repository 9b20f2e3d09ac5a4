if id -u debian >/dev/null 2>&1; then echo account=present; else echo account=absent; fi
