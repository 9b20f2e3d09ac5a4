"""The commune profile: pydantic models with French keys, and how a YAML file becomes one.

Pure: no network, no clock. ``load_profile`` reads a file and returns a ``Profile`` or raises
``ProfileError`` carrying one ``Problem`` per mistake, each with its field path, line and column.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)

from kit_collab.errors import Problem, ProfileError
from kit_collab.i18n import tr
from kit_collab.profile import yamlsafe

# EU member states plus the EEA (Iceland, Liechtenstein, Norway): their law governs the data.
EU_EEA = frozenset((
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
    "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
))

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")
_LABEL_RE = re.compile(rf"^{_LABEL}$")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@[^@\s]+$")
_IDENT_RE = re.compile(r"^[a-z][a-z0-9._-]{1,31}$")
_SERVICE_ID_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
_QUOTA_RE = re.compile(r"^(\d{1,6})\s*(MB|GB|TB|Mo|Go|To)$", re.IGNORECASE)
_FINGERPRINT_RE = re.compile(r"^SHA256:[A-Za-z0-9+/]{43}=?$")
_TZ_RE = re.compile(r"^[A-Za-z_]+(?:/[A-Za-z0-9_+-]+){0,2}$|^UTC$")


def _domain(value: str) -> str:
    value = value.strip().lower().rstrip(".")
    if not _DOMAIN_RE.match(value):
        raise ValueError(tr(
            f"« {value} » n'est pas un nom de domaine valide (ex. : mairie-exemple.fr ; "
            "un domaine accentué s'écrit en xn--)",
            f"'{value}' is not a valid domain name (e.g. town-example.fr; write accented "
            "domains in xn-- form)",
        ))
    return value


def _label(value: str) -> str:
    value = value.strip().lower()
    if not _LABEL_RE.match(value):
        raise ValueError(tr(
            f"« {value} » n'est pas un sous-domaine valide : lettres minuscules, chiffres et "
            "tirets (ex. : cloud)",
            f"'{value}' is not a valid sub-domain: lower-case letters, digits and hyphens "
            "(e.g. cloud)",
        ))
    return value


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL_RE.match(value) or not _DOMAIN_RE.match(value.split("@", 1)[1].lower()):
        raise ValueError(tr(f"« {value} » n'est pas une adresse e-mail valide",
                            f"'{value}' is not a valid e-mail address"))
    return value


def _free_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(tr("ne doit pas être vide", "must not be empty"))
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for ch in value):
        raise ValueError(tr(
            "caractère de contrôle (retour à la ligne, tabulation…) interdit : écrivez-le sur "
            "une seule ligne",
            "control character (newline, tab…) not allowed: write it on one line",
        ))
    return value


RESERVED_IDS = frozenset({"admin", "kit-collab"})  # technical accounts of the services


def _identifiant(value: str) -> str:
    if value in RESERVED_IDS:
        raise ValueError(tr(
            f"« {value} » est réservé à un compte technique : choisissez un autre identifiant",
            f"'{value}' is reserved for a technical account: choose another identifier"))
    if not _IDENT_RE.match(value):
        raise ValueError(tr(
            f"« {value} » : un identifiant commence par une lettre minuscule, puis 1 à 31 "
            "lettres minuscules, chiffres, « . », « _ » ou « - » (ex. : mdupont)",
            f"'{value}': an identifier starts with a lower-case letter, then 1 to 31 lower-case "
            "letters, digits, '.', '_' or '-' (e.g. mdupont)",
        ))
    return value


def _service_id(value: str) -> str:
    if not _SERVICE_ID_RE.match(value):
        raise ValueError(tr(
            f"« {value} » : un id de service municipal s'écrit en minuscules, chiffres et "
            "tirets (ex. : etat-civil)",
            f"'{value}': a municipal service id is lower-case letters, digits and hyphens "
            "(e.g. etat-civil)",
        ))
    return value


def _quota(value: str) -> str:
    text = str(value).strip()
    if text.lower() in ("illimité", "illimite", "none", "unlimited"):
        return "none"
    match = _QUOTA_RE.match(text)
    if not match:
        raise ValueError(tr(
            f"« {text} » : un quota s'écrit « 10 GB », « 500 MB » ou « illimité »",
            f"'{text}': a quota is written '10 GB', '500 MB' or 'unlimited'",
        ))
    unit = match.group(2).upper().replace("O", "B")
    return f"{int(match.group(1))} {unit}"


def _host(value: str) -> str:
    value = value.strip()
    if value == "local":
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return _domain(value)


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(tr(f"« {value} » n'est pas une adresse IP",
                            f"'{value}' is not an IP address")) from None


def _fingerprint(value: str) -> str:
    if not _FINGERPRINT_RE.match(value.strip()):
        raise ValueError(tr(
            "empreinte attendue au format SHA256:… (43 caractères, comme l'affiche "
            "« ssh-keygen -lf »)",
            "fingerprint expected as SHA256:… (43 characters, as 'ssh-keygen -lf' prints it)",
        ))
    return value.strip()


def _country(value: str) -> str:
    value = value.strip().upper()
    if not re.match(r"^[A-Z]{2}$", value):
        raise ValueError(tr(f"« {value} » : code pays à deux lettres attendu (ex. : FR)",
                            f"'{value}': two-letter country code expected (e.g. FR)"))
    return value


def _timezone(value: str) -> str:
    if not _TZ_RE.match(value):
        raise ValueError(tr(f"« {value} » n'est pas un fuseau horaire (ex. : Europe/Paris)",
                            f"'{value}' is not a time zone (e.g. Europe/Paris)"))
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://[A-Za-z0-9.-]+(?::\d{1,5})?(?:/[A-Za-z0-9._~/-]*)?$", value):
        raise ValueError(tr(f"« {value} » n'est pas une adresse http(s) valide",
                            f"'{value}' is not a valid http(s) address"))
    return value


Domain = Annotated[str, AfterValidator(_domain)]
Label = Annotated[str, AfterValidator(_label)]
Email = Annotated[str, AfterValidator(_email)]
FreeText = Annotated[str, Field(max_length=100), AfterValidator(_free_text)]
Identifiant = Annotated[str, AfterValidator(_identifiant)]
ServiceId = Annotated[str, AfterValidator(_service_id)]
Quota = Annotated[str, AfterValidator(_quota)]
Url = Annotated[str, AfterValidator(_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Commune(_Strict):
    nom: FreeText = Field(description="Nom officiel de la commune, tel qu'il s'affiche.")
    domaine: Domain = Field(description="Domaine de la commune ; les services en sont des "
                            "sous-domaines et les comptes Matrix s'écrivent @agent:domaine.")
    email_contact: Email = Field(description="Adresse de contact ; sert aussi pour Let's Encrypt.")
    fuseau_horaire: Annotated[str, AfterValidator(_timezone)] = Field(
        "Europe/Paris", description="Fuseau horaire IANA.")
    slug: Label | None = Field(None, description="Nom court technique (dossiers, volumes). "
                               "Par défaut : le domaine, points remplacés par des tirets.")

    @property
    def code(self) -> str:
        return self.slug or self.domaine.replace(".", "-")


class Certificats(_Strict):
    mode: Literal["acme", "interne"] = Field(
        "acme", description="acme : certificats Let's Encrypt (ou autre CA ACME) ; interne : "
        "autorité locale de Caddy (tests, réseau privé).")
    email_acme: Email | None = Field(None, description="E-mail du compte ACME (par défaut "
                                     "commune.email_contact).")
    serveur_acme: Url | None = Field(None, description="Adresse du répertoire ACME d'une autre "
                                     "autorité (par défaut Let's Encrypt).")


class Serveur(_Strict):
    hote: Annotated[str, AfterValidator(_host)] = Field(
        description="Adresse IP ou nom du serveur, ou « local » pour installer sur cette machine.")
    ip_publique: Annotated[str, AfterValidator(_ip)] | None = Field(
        None, description="Adresse IP publique (vidéo Jitsi, TURN). Par défaut : hote s'il "
        "s'agit d'une adresse IP.")
    utilisateur: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")] = Field(
        "root", description="Compte SSH ; sudo sans mot de passe s'il n'est pas root.")
    port_ssh: int = Field(22, ge=1, le=65535, description="Port SSH.")
    cle_ssh: str | None = Field(None, description="Chemin de la clé privée SSH (sinon l'agent "
                                "SSH).")
    empreinte_hote: Annotated[str, AfterValidator(_fingerprint)] | None = Field(
        None, description="Empreinte SHA256 de la clé d'hôte SSH, pour l'épingler.")
    hebergeur: FreeText = Field(description="Hébergeur du serveur (ex. : ovhcloud, scaleway).")
    pays: Annotated[str, AfterValidator(_country)] = Field(
        description="Pays du centre de données (code ISO à deux lettres) ; UE/EEE exigé.")
    derogation_hors_ue: str | None = Field(
        None, min_length=20, description="Motif écrit justifiant un hébergement hors UE/EEE.")
    miroir_registre: Url | None = Field(None, description="Miroir de registre Docker à "
                                        "utiliser pour les téléchargements d'images.")
    racine: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/-]+$")] = Field(
        "/opt/kit-collab", description="Dossier de kit-collab sur le serveur (à ne changer "
        "que pour des essais).")
    certificats: Certificats = Field(default_factory=Certificats,  # type: ignore[arg-type]
                                     description="Certificats HTTPS du proxy.")

    @property
    def adresse_publique(self) -> str | None:
        if self.ip_publique:
            return self.ip_publique
        try:
            return str(ipaddress.ip_address(self.hote))
        except ValueError:
            return None


class Nextcloud(_Strict):
    actif: bool = Field(True, description="Installer Nextcloud (fichiers, agendas).")
    sous_domaine: Label = Field("cloud", description="Sous-domaine de Nextcloud.")
    collabora: bool = Field(False, description="Édition collaborative avec Collabora Online.")
    sous_domaine_collabora: Label = Field("office", description="Sous-domaine de Collabora.")
    quota_par_defaut: Quota = Field("10 GB", description="Quota par agent (ex. : 10 GB).")


class Matrix(_Strict):
    actif: bool = Field(True, description="Installer Matrix (Synapse) et Element.")
    sous_domaine: Label = Field("matrix", description="Sous-domaine du serveur Synapse.")
    element_sous_domaine: Label = Field("discussion", description="Sous-domaine d'Element.")
    federation: bool = Field(False, description="Ouvrir la fédération avec d'autres serveurs.")


class Jitsi(_Strict):
    actif: bool = Field(True, description="Installer Jitsi Meet (visioconférence).")
    sous_domaine: Label = Field("visio", description="Sous-domaine de Jitsi Meet.")
    invites: bool = Field(True, description="Les invités peuvent rejoindre une réunion ouverte "
                          "par un agent.")


class Turn(_Strict):
    sous_domaine: Label = Field("turn", description="Sous-domaine du serveur TURN (coturn), "
                                "utilisé dès que Matrix ou Jitsi est actif.")


class Services(_Strict):
    nextcloud: Nextcloud = Field(default_factory=Nextcloud)  # type: ignore[arg-type]
    matrix: Matrix = Field(default_factory=Matrix)  # type: ignore[arg-type]
    jitsi: Jitsi = Field(default_factory=Jitsi)  # type: ignore[arg-type]
    turn: Turn = Field(default_factory=Turn)  # type: ignore[arg-type]


class ServiceMunicipal(_Strict):
    id: ServiceId = Field(description="Identifiant court (ex. : urbanisme).")
    nom: FreeText = Field(description="Nom affiché (dossier partagé, salon de discussion).")


class Utilisateur(_Strict):
    identifiant: Identifiant = Field(description="Identifiant de connexion (ex. : mdupont).")
    nom: FreeText = Field(description="Prénom et nom affichés.")
    email: Email = Field(description="Adresse e-mail de l'agent.")
    role: Literal["administrateur", "agent"] = Field("agent", description="administrateur ou "
                                                     "agent.")
    services_municipaux: list[ServiceId] = Field(default_factory=list,
                                                 description="Services dont l'agent fait partie.")
    quota: Quota | None = Field(None, description="Quota propre à cet agent.")


class Profile(_Strict):
    commune: Commune
    serveur: Serveur
    services: Services = Field(default_factory=Services)  # type: ignore[arg-type]
    services_municipaux: list[ServiceMunicipal] = Field(default_factory=list)
    utilisateurs: list[Utilisateur] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Loading and error reporting


def _pretty_loc(loc: tuple[str | int, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _closest(word: str, choices: list[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return found[0] if found else None


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The model class that holds the field at ``loc`` (used for "did you mean")."""
    model: Any = Profile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        candidates = [annotation, *args]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)),
                     None)
        if model is None:
            return None
    return model


def _simple_messages(ctx: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """French and English text for pydantic's error types that need no lookup."""
    bound = next(iter(ctx.values()), "")
    return {
        "missing": ("champ obligatoire manquant", "required field missing"),
        "string_type": ("texte attendu", "text expected"),
        "bool_type": ("true ou false attendu", "true or false expected"),
        "bool_parsing": ("true ou false attendu", "true or false expected"),
        "int_type": ("nombre entier attendu", "whole number expected"),
        "int_parsing": ("nombre entier attendu", "whole number expected"),
        "int_from_float": ("nombre entier attendu", "whole number expected"),
        "list_type": ("liste attendue (lignes commençant par « - »)",
                      "list expected (lines starting with '-')"),
        "model_type": ("bloc de clés attendu (clé: valeur)", "mapping expected (key: value)"),
        "dict_type": ("bloc de clés attendu (clé: valeur)", "mapping expected (key: value)"),
        "literal_error": (f"valeur non reconnue ; valeurs possibles : {ctx.get('expected')}",
                          f"unrecognised value; possible values: {ctx.get('expected')}"),
        "greater_than_equal": (f"valeur hors limites (au moins {bound})",
                               f"value out of range (at least {bound})"),
        "less_than_equal": (f"valeur hors limites (au plus {bound})",
                            f"value out of range (at most {bound})"),
        "string_too_long": (f"texte trop long (au plus {ctx.get('max_length')} caractères)",
                            f"text too long (at most {ctx.get('max_length')} characters)"),
        "string_too_short": (f"texte trop court (au moins {ctx.get('min_length')} caractères)",
                             f"text too short (at least {ctx.get('min_length')} characters)"),
        "string_pattern_mismatch": (f"format invalide (attendu : {ctx.get('pattern')})",
                                    f"invalid format (expected: {ctx.get('pattern')})"),
    }


def _message(err: dict[str, Any]) -> tuple[str, str | None]:
    """One French (or English) sentence and an optional hint for a pydantic error."""
    kind, loc, ctx = err["type"], err["loc"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        model = _model_at(loc)
        known = sorted(model.model_fields) if model else []
        guess = _closest(str(loc[-1]), known)
        hint = tr(f"vouliez-vous dire « {guess} » ?", f"did you mean '{guess}'?") if guess else (
            tr(f"clés possibles : {', '.join(known)}", f"known keys: {', '.join(known)}")
            if known else None)
        return tr(f"clé inconnue « {loc[-1]} »", f"unknown key '{loc[-1]}'"), hint
    if kind == "value_error":
        return str(ctx.get("error", err["msg"])), None
    simple = _simple_messages(ctx).get(kind)
    return (tr(*simple), None) if simple else (str(err["msg"]), None)


def _problem(doc: yamlsafe.Document, loc: tuple[str | int, ...], message: str,
             hint: str | None = None) -> Problem:
    mark = doc.mark(loc)
    return Problem(_pretty_loc(loc), message, file=doc.file(loc),
                   line=mark[0] if mark else None, column=mark[1] if mark else None, hint=hint)


Found = list[tuple[tuple[str | int, ...], str, str | None]]  # (path, message, hint)


def _cross_checks(profile: Profile) -> Found:
    """Rules that span several fields."""
    found: Found = []
    ids: dict[str, int] = {}
    for i, svc in enumerate(profile.services_municipaux):
        if svc.id in ids:
            found.append((("services_municipaux", i, "id"), tr(
                f"service municipal « {svc.id} » déjà déclaré (n° {ids[svc.id] + 1})",
                f"municipal service '{svc.id}' already declared (no. {ids[svc.id] + 1})"), None))
        ids.setdefault(svc.id, i)
    found.extend(_user_checks(profile, list(ids)))
    found.extend(_subdomain_checks(profile))
    found.extend(_hosting_checks(profile))
    return found


def _user_checks(profile: Profile, service_ids: list[str]) -> Found:
    found: Found = []
    seen_users: set[str] = set()
    seen_emails: set[str] = set()
    for i, user in enumerate(profile.utilisateurs):
        if user.identifiant in seen_users:
            found.append((("utilisateurs", i, "identifiant"), tr(
                f"identifiant « {user.identifiant} » déjà utilisé",
                f"identifier '{user.identifiant}' already used"), None))
        seen_users.add(user.identifiant)
        if user.email.lower() in seen_emails:
            found.append((("utilisateurs", i, "email"), tr(
                f"adresse « {user.email} » déjà utilisée par un autre agent",
                f"address '{user.email}' already used by another user"), None))
        seen_emails.add(user.email.lower())
        for j, sid in enumerate(user.services_municipaux):
            if sid in service_ids:
                continue
            guess = _closest(sid, service_ids)
            found.append((("utilisateurs", i, "services_municipaux", j), tr(
                f"service municipal « {sid} » inconnu", f"unknown municipal service '{sid}'"),
                tr(f"vouliez-vous dire « {guess} » ?", f"did you mean '{guess}'?") if guess
                else tr("déclarez-le dans services_municipaux",
                        "declare it under services_municipaux")))
    return found


def _subdomain_checks(profile: Profile) -> Found:
    svc = profile.services
    used: list[tuple[tuple[str | int, ...], str]] = []
    if svc.nextcloud.actif:
        used.append((("services", "nextcloud", "sous_domaine"), svc.nextcloud.sous_domaine))
        if svc.nextcloud.collabora:
            used.append((("services", "nextcloud", "sous_domaine_collabora"),
                         svc.nextcloud.sous_domaine_collabora))
    if svc.matrix.actif:
        used.append((("services", "matrix", "sous_domaine"), svc.matrix.sous_domaine))
        used.append((("services", "matrix", "element_sous_domaine"),
                     svc.matrix.element_sous_domaine))
    if svc.jitsi.actif:
        used.append((("services", "jitsi", "sous_domaine"), svc.jitsi.sous_domaine))
    if svc.matrix.actif or svc.jitsi.actif:
        used.append((("services", "turn", "sous_domaine"), svc.turn.sous_domaine))
    found: Found = []
    first: dict[str, tuple[str | int, ...]] = {}
    for path, label in used:
        if label in first:
            found.append((path, tr(
                f"sous-domaine « {label} » déjà pris par {_pretty_loc(first[label])}",
                f"sub-domain '{label}' already taken by {_pretty_loc(first[label])}"),
                tr("choisissez un sous-domaine différent pour chaque service",
                   "choose a different sub-domain for each service")))
        first.setdefault(label, path)
    if svc.nextcloud.collabora and not svc.nextcloud.actif:
        found.append((("services", "nextcloud", "collabora"), tr(
            "Collabora a besoin de Nextcloud, qui est désactivé",
            "Collabora needs Nextcloud, which is disabled"),
            tr("activez nextcloud ou mettez collabora: false",
               "enable nextcloud or set collabora: false")))
    if not (svc.nextcloud.actif or svc.matrix.actif or svc.jitsi.actif):
        found.append((("services",), tr("aucun service n'est actif",
                                        "no service is enabled"), None))
    return found


def _hosting_checks(profile: Profile) -> Found:
    found: Found = []
    srv = profile.serveur
    if srv.pays not in EU_EEA and not srv.derogation_hors_ue:
        found.append((("serveur", "pays"), tr(
            f"le pays « {srv.pays} » n'est ni dans l'Union européenne ni dans l'EEE : les "
            "données de la commune doivent y rester",
            f"country '{srv.pays}' is neither in the European Union nor in the EEA: the "
            "commune's data must stay there"),
            tr("choisissez un hébergeur dans l'UE, ou écrivez le motif dans "
               "serveur.derogation_hors_ue", "choose an EU host, or write the reason in "
               "serveur.derogation_hors_ue")))
    needs_ip = profile.services.jitsi.actif or profile.services.matrix.actif
    if needs_ip and srv.adresse_publique is None:
        found.append((("serveur", "ip_publique"), tr(
            "adresse IP publique nécessaire pour la vidéo (Jitsi) et le relais TURN",
            "public IP address needed for video (Jitsi) and the TURN relay"),
            tr("indiquez serveur.ip_publique (ex. : 203.0.113.10)",
               "set serveur.ip_publique (e.g. 203.0.113.10)")))
    return found


def validate_document(doc: yamlsafe.Document) -> Profile:
    """A Profile from a parsed document, or ProfileError listing every problem."""
    if not isinstance(doc.data, dict):
        raise ProfileError(
            tr("profil invalide", "invalid profile"),
            [_problem(doc, (), tr("le profil doit être un bloc de clés (commune:, serveur:, …)",
                                  "the profile must be a mapping (commune:, serveur:, …)"))])
    try:
        profile = Profile.model_validate(doc.data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message, hint = _message(dict(err))
            problems.append(_problem(doc, tuple(err["loc"]), message, hint))
        raise ProfileError(tr("profil invalide", "invalid profile"), problems) from None
    cross = _cross_checks(profile)
    if cross:
        raise ProfileError(tr("profil invalide", "invalid profile"),
                           [_problem(doc, loc, msg, hint) for loc, msg, hint in cross])
    return profile


DEFAULTS_FILE = "defauts.yaml"  # an inventory folder's shared defaults


def _read(path: str | FsPath) -> bytes:
    source = str(path)
    try:
        return FsPath(path).read_bytes()
    except FileNotFoundError:
        raise ProfileError(tr(f"fichier introuvable : {source}", f"file not found: {source}"),
                           hint=tr("vérifiez le chemin, ou créez le profil avec "
                                   "« kit-collab init »",
                                   "check the path, or create the profile with "
                                   "'kit-collab init'")) from None
    except IsADirectoryError:
        raise ProfileError(tr(f"{source} est un dossier, pas un fichier",
                              f"{source} is a folder, not a file")) from None
    except OSError as exc:
        raise ProfileError(tr(f"lecture impossible de {source} : {exc.strerror}",
                              f"cannot read {source}: {exc.strerror}")) from None


def load_document(path: str | FsPath) -> yamlsafe.Document:
    """Read and parse a profile file over the ``defauts.yaml`` of its folder, if any (a
    profile of an inventory inherits its defaults, used alone as in a fleet run)."""
    doc = yamlsafe.load(_read(path), str(path))
    defaults = FsPath(path).parent / DEFAULTS_FILE
    if FsPath(path).name != DEFAULTS_FILE and defaults.is_file():
        doc = yamlsafe.with_defaults(doc, yamlsafe.load(_read(defaults), str(defaults)))
    return doc


def load_profile(path: str | FsPath) -> Profile:
    """Read, parse and validate a profile file, over the ``defauts.yaml`` of its folder."""
    return validate_document(load_document(path))


def json_schema() -> dict[str, Any]:
    schema = Profile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Profil de commune kit-collab"
    return schema
