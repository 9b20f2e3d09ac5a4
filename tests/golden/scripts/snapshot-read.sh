C=/opt/kit-collab/communes/saint-essai-fr
cat "$C/"avant-r-2/snapshot.json 2>/dev/null || true
