#!/bin/sh
# Généré par kit-collab : crochet « before-starting » de l'image Nextcloud (nextcloud/docker
# 34.0.2, 34/apache/entrypoint.sh, run_path before-starting), lancé en www-data à chaque démarrage,
# après la copie des fichiers et l'installation. Il recopie la configuration de kit-collab
# dans config/ (jamais montée dans le volume : l'entrypoint ne remplit config/ que vide).
set -eu
src=/usr/local/share/kit-collab/kit-collab.config.php
dest=/var/www/html/config/kit-collab.config.php
cp "$src" "$dest.tmp"
chmod 0640 "$dest.tmp"
mv -f "$dest.tmp" "$dest"
echo "kit-collab : $dest à jour"
