B=/opt/kit-collab/communes/saint-essai-fr/sauvegarde
[ -x "$B/sauvegarder.sh" ] || { echo not-configured; exit 2; }
KC_QUI=commande "$B/sauvegarder.sh" lister </dev/null
