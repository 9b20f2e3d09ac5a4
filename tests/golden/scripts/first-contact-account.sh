U=debian
if id -u "$U" >/dev/null 2>&1; then
  echo account=present
  if [ "$U" != root ]; then
    if sudo -n -l -U "$U" 2>/dev/null | grep -qE 'NOPASSWD: *ALL'; then echo sudo=nopasswd; else echo sudo=other; fi
  fi
else
  echo account=absent
fi
