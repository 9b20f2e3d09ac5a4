C=/opt/kit-collab/communes/saint-essai-fr
cat "$C/secrets/restic.pass" 2>/dev/null || true
