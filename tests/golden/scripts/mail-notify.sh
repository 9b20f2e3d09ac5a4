rapport=x
mail_msg=$(mktemp)
printf '%s%s\n' 'From: a@exemple.fr
To: x'"'"'; rm -rf / #$(id)`id`
Subject: =?utf-8?q?Sauvegarde_=C3=A9chou=C3=A9e?=
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

' "$rapport" > "$mail_msg"
mail_code=0
curl --config /opt/kit-collab/communes/saint-essai-fr/secrets/messagerie.curl --mail-rcpt 'x'"'"'; rm -rf / #$(id)`id`' --upload-file "$mail_msg" || mail_code=$?
rm -f "$mail_msg"
echo "$mail_code"
