B=/opt/kit-collab/communes/saint-essai-fr/sauvegarde
[ -x "$B/sauvegarder.sh" ] || { echo not-configured; exit 2; }
KC_QUI=commande KC_PROGRESS=1 "$B/sauvegarder.sh" sauvegarder </dev/null
