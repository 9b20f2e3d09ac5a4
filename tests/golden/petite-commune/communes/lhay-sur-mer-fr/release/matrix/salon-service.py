"""Salon Matrix d'un service municipal : créé une fois, puis laissé tel quel.

Généré par kit-collab ; lancé dans le conteneur matrix-synapse (tâche « salon »), avec la
bibliothèque standard de Python seulement. Le compte technique kit-collab se connecte
(mot de passe dans KC_BOT_PASSWORD), crée le salon privé #<id>:<domaine> s'il n'existe pas,
y invite les agents du service et les administrateurs, et donne aux administrateurs le
niveau 100. Si l'alias existe déjà, rien n'est modifié : relancer la tâche est sans effet.
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

BOT = "kit-collab"


def call(base, method, path, body=None, token=None):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"error": raw.decode("utf-8", "replace")}


def ids(text, domain):
    return ["@%s:%s" % (name, domain) for name in text.split(",") if name]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Salon Matrix d'un service municipal")
    parser.add_argument("--id", required=True)
    parser.add_argument("--nom", required=True)
    parser.add_argument("--domaine", required=True)
    parser.add_argument("--membres", default="")
    parser.add_argument("--admins", default="")
    args = parser.parse_args(argv)
    base = os.environ.get("KC_SYNAPSE_URL", "http://127.0.0.1:8008")
    password = os.environ.get("KC_BOT_PASSWORD", "")
    if not password:
        print("KC_BOT_PASSWORD manquant", file=sys.stderr)
        return 2

    status, login = call(base, "POST", "/_matrix/client/v3/login", {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": BOT},
        "password": password,
        "initial_device_display_name": "kit-collab",
    })
    if status != 200:
        print("connexion du compte technique refusée : %s" % login.get("error"), file=sys.stderr)
        return 1
    token = login["access_token"]
    try:
        return ensure_room(base, token, args)
    finally:
        call(base, "POST", "/_matrix/client/v3/logout", {}, token)


def ensure_room(base, token, args):
    alias = "#%s:%s" % (args.id, args.domaine)
    quoted = urllib.parse.quote(alias, safe="")
    status, found = call(base, "GET", "/_matrix/client/v3/directory/room/" + quoted, None, token)
    if status == 200:
        print("salon %s déjà présent (%s)" % (alias, found.get("room_id")))
        return 0
    if status != 404:
        print("recherche de %s impossible : %s" % (alias, found.get("error")), file=sys.stderr)
        return 1
    admins = ids(args.admins, args.domaine)
    invite = sorted(set(ids(args.membres, args.domaine)) | set(admins))
    status, created = call(base, "POST", "/_matrix/client/v3/createRoom", {
        "preset": "private_chat",
        "visibility": "private",
        "name": args.nom,
        "room_alias_name": args.id,
        "invite": invite,
        "initial_state": [{"type": "m.room.encryption", "state_key": "",
                           "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
    }, token)
    if status != 200:
        print("création de %s impossible : %s" % (alias, created.get("error")), file=sys.stderr)
        return 1
    room = urllib.parse.quote(created["room_id"], safe="")
    path = "/_matrix/client/v3/rooms/%s/state/m.room.power_levels" % room
    status, levels = call(base, "GET", path, None, token)
    if status == 200 and admins:
        users = dict(levels.get("users") or {})
        users.update({user: 100 for user in admins})
        levels["users"] = users
        status, _ = call(base, "PUT", path, levels, token)
    if status != 200:
        print("droits des administrateurs non posés dans %s" % alias, file=sys.stderr)
        return 1
    print("salon %s créé (%s), %d invitation(s)" % (alias, created["room_id"], len(invite)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
