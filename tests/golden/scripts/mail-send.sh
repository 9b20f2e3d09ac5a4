command -v curl >/dev/null 2>&1 || { echo "curl-exit=90"; exit 0; }
msg=$(mktemp)
trap 'rm -f "$msg"' EXIT
printf '%s' 'From: a@exemple.fr
To: b@exemple.fr
Date: Thu, 03 Dec 2026 13:00:00 +0000
Subject: Message d'"'"'essai de kit-collab (x'"'"'; rm -rf / #$(id)`id`)
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: quoted-printable
MIME-Version: 1.0

Bonjour,

Ce message d'"'"'essai a =C3=A9t=C3=A9 envoy=C3=A9 par kit-collab depuis le serve=
ur de x'"'"'; rm -rf / #$(id)`id`, par le relais smtp.

S'"'"'il vous parvient, Nextcloud (mot de passe oubli=C3=A9, partages, invitation=
s) et Matrix (notifications) peuvent envoyer leurs e-mails.
' > "$msg"
code=0
curl --connect-timeout 10 --max-time 40 -sS --ssl-reqd --config - --mail-from 'x'"'"'; rm -rf / #$(id)`id`' --mail-rcpt a@exemple.fr --crlf --upload-file "$msg" smtp://smtp.exemple.fr:587 2>&1 || code=$?
echo "curl-exit=$code"
