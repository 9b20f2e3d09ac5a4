"""The commune profile: pydantic models with French keys and the validators of their fields.

Pure: no file, no network, no clock. ``kit_collab.profile.load`` reads a file into a
``Profile``; ``kit_collab.profile.messages`` turns pydantic's errors into French sentences.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field

from kit_collab.i18n import tr
from kit_collab.profile.backup_model import Sauvegardes
from kit_collab.profile.fields import country
from kit_collab.profile.mail_model import Messagerie

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


def normal_domain(value: str) -> str:
    """A domain as people type it, made the one DNS knows: no scheme, path, port or final
    dot, lower case, and an accented name in its ASCII (``xn--``) form (IDNA 2008, UTS 46).
    Anything else is left for the format check to refuse."""
    value = value.strip()
    value = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", value)
    value = value.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    value = re.sub(r":\d+$", "", value).rstrip(".").lower()
    if value and not value.isascii():
        import idna

        with contextlib.suppress(idna.IDNAError):  # left for the format check to refuse
            value = idna.encode(value, uts46=True).decode("ascii")
    return value


def _domain(value: str) -> str:
    value = normal_domain(value)
    if not _DOMAIN_RE.match(value):
        raise ValueError(tr(
            f"« {value} » n'est pas un nom de domaine valide (ex. : mairie-exemple.fr)",
            f"'{value}' is not a valid domain name (e.g. town-example.fr)",
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
    pays: Annotated[str, AfterValidator(country)] = Field(
        description="Pays du centre de données (code ISO à deux lettres) ; UE/EEE exigé.")
    derogation_hors_ue: str | None = Field(
        None, min_length=20, description="Motif écrit justifiant un hébergement hors UE/EEE.")
    miroir_registre: Url | None = Field(None, description="Miroir de registre Docker à "
                                        "utiliser pour les téléchargements d'images.")
    racine: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/-]+$")] = Field(
        "/opt/kit-collab", description="Dossier de kit-collab sur le serveur (à ne changer "
        "que pour des essais).")
    certificats: Certificats = Field(default_factory=Certificats,
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


# How Matrix identifiers find their server (never by taking over the town's website):
SITE_EXISTANT = "site-existant"  # @agent:<domaine>; the website serves two small files
DOMAINE_VERS_SERVEUR = "domaine-vers-serveur"  # @agent:<domaine>; <domaine> points here
SOUS_DOMAINE = "sous-domaine"  # @agent:matrix.<domaine>; nothing on <domaine>
IdentifiantsMatrix = Literal["site-existant", "domaine-vers-serveur", "sous-domaine"]


class Matrix(_Strict):
    actif: bool = Field(True, description="Installer Matrix (Synapse) et Element.")
    sous_domaine: Label = Field("matrix", description="Sous-domaine du serveur Synapse.")
    element_sous_domaine: Label = Field("discussion", description="Sous-domaine d'Element.")
    federation: bool = Field(False, description="Ouvrir la fédération avec d'autres serveurs.")
    identifiants: IdentifiantsMatrix = Field(
        "site-existant", description="Comment les identifiants Matrix trouvent leur serveur, "
        "choisi une fois pour toutes (ils ne changent plus après la première installation). "
        "site-existant : @agent:<domaine>, le site web de la commune reste où il est et sert "
        "deux petits fichiers (install et check en donnent le contenu exact) ; "
        "domaine-vers-serveur : @agent:<domaine>, le domaine pointe vers ce serveur, qui "
        "renvoie tout le reste vers "
        "site_web ; sous-domaine : @agent:<sous_domaine>.<domaine>, rien sur le domaine.")
    site_web: Url | None = Field(
        None, description="Adresse du site web de la commune (ex. : https://www.<domaine>) ; "
        "en domaine-vers-serveur, tout ce qui n'est pas Matrix y est redirigé.")

    # Booleans the recipes' conditions (when:) read, one per mode.
    @computed_field  # type: ignore[prop-decorator]
    @property
    def via_site_existant(self) -> bool:
        return self.identifiants == SITE_EXISTANT

    @computed_field  # type: ignore[prop-decorator]
    @property
    def domaine_sur_serveur(self) -> bool:
        return self.identifiants == DOMAINE_VERS_SERVEUR

    @computed_field  # type: ignore[prop-decorator]
    @property
    def via_sous_domaine(self) -> bool:
        return self.identifiants == SOUS_DOMAINE

    @computed_field  # type: ignore[prop-decorator]
    @property
    def redirection_site_web(self) -> bool:
        """The proxy sends every other page of the domain to the website."""
        return self.domaine_sur_serveur and self.site_web is not None


class Jitsi(_Strict):
    actif: bool = Field(True, description="Installer Jitsi Meet (visioconférence).")
    sous_domaine: Label = Field("visio", description="Sous-domaine de Jitsi Meet.")
    invites: bool = Field(True, description="Les invités peuvent rejoindre une réunion ouverte "
                          "par un agent.")


class Turn(_Strict):
    sous_domaine: Label = Field("turn", description="Sous-domaine du serveur TURN (coturn), "
                                "utilisé dès que Matrix ou Jitsi est actif.")


class Services(_Strict):
    nextcloud: Nextcloud = Field(default_factory=Nextcloud)
    matrix: Matrix = Field(default_factory=Matrix)
    jitsi: Jitsi = Field(default_factory=Jitsi)
    turn: Turn = Field(default_factory=Turn)


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


class Assistance(_Strict):
    """Who helps the agents: printed on every sheet and in the welcome guide."""

    nom: FreeText = Field(description="Qui aide les agents (ex. : service informatique de "
                          "l'intercommunalité, ou la secrétaire de mairie).")
    telephone: Annotated[str, Field(pattern=r"^\+?[0-9][0-9 .()-]{5,22}$")] = Field(
        description="Numéro à appeler (ex. : 04 90 12 34 56 ou +33 4 90 12 34 56).")
    email: Email | None = Field(None, description="Adresse à écrire (facultatif).")
    horaires: FreeText | None = Field(None, description="Quand appeler (ex. : du lundi au "
                                      "vendredi, 9 h – 12 h).")


class Profile(_Strict):
    commune: Commune
    serveur: Serveur
    services: Services = Field(default_factory=Services)
    services_municipaux: list[ServiceMunicipal] = Field(default_factory=list)
    utilisateurs: list[Utilisateur] = Field(default_factory=list)
    assistance: Assistance | None = Field(None, description="Assistance des agents : nom, "
                                          "téléphone, e-mail, imprimés sur chaque fiche.")
    messagerie: Messagerie | None = Field(None, description="Relais d'envoi des e-mails.")
    sauvegardes: Sauvegardes | None = Field(None, description="Sauvegardes de nuit (restic).")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def matrix_server_name(self) -> str:
        """Synapse's server_name: the part after ":" in every Matrix identifier."""
        return matrix_server_name(self.commune.domaine, self.services.matrix)


def url_host(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()


def matrix_server_name(domain: str, matrix: Matrix) -> str:
    return f"{matrix.sous_domaine}.{domain}" if matrix.via_sous_domaine else domain

