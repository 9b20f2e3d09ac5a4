B=/opt/kit-collab/communes/saint-essai-fr/sauvegarde
printf 'derniere '; tr -d '\n' < "$B/derniere.json" 2>/dev/null; echo
printf 'verification '; tr -d '\n' < "$B/verification.json" 2>/dev/null; echo
