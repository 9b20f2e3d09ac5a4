<?php
// Généré par kit-collab ; relu par Nextcloud à chaque requête, il prime sur les réglages
// posés à l'installation (trusted_domains n'est sinon appliqué qu'une fois).
$CONFIG = array(
  'trusted_domains' => array(0 => 'cloud.saint-exemple.fr'),
  'overwriteprotocol' => 'https',
  'overwritehost' => 'cloud.saint-exemple.fr',
  'overwrite.cli.url' => 'https://cloud.saint-exemple.fr',
  'trusted_proxies' => array(0 => '10.0.0.0/8', 1 => '172.16.0.0/12', 2 => '192.168.0.0/16'),
  'forwarded_for_headers' => array(0 => 'HTTP_X_FORWARDED_FOR'),
  'default_phone_region' => 'FR',
  'default_language' => 'fr',
  'default_locale' => 'fr_FR',
  'default_timezone' => 'Europe/Paris',
  'maintenance_window_start' => 1,
  'mail_from_address' => 'mairie',
  'mail_domain' => 'saint-exemple.fr',
);
