"""TLS: certificate validity, issuer, expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kit_collab.check.findings import ERROR, OK, WARNING, Finding
from kit_collab.i18n import tr


@dataclass(frozen=True)
class CertInfo:
    subject: str
    issuer: str
    names: tuple[str, ...]
    not_before: datetime
    not_after: datetime
    self_issued: bool


@dataclass(frozen=True)
class TlsObservation:
    host: str
    where: str  # ip:port or host:443
    cert: CertInfo | None = None
    verify_code: int | None = None  # OpenSSL X509_V_ERR_* when verification failed
    verify_message: str = ""
    error: str = ""  # connection or handshake failure, when no certificate was verified


# OpenSSL verification codes (x509_vfy.h).
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _NO_LEAF_ISSUER = 18, 19, 20, 21
_HOSTNAME_MISMATCH = 62
WARN_DAYS = 14


def _date(d: datetime) -> str:
    return d.strftime("%d/%m/%Y %H:%M UTC")


def _proxy_logs_fix() -> str:
    return tr("journaux du proxy, sur le serveur : docker compose -p kit-collab-proxy logs "
              "--tail 50 caddy", "proxy logs, on the server: docker compose -p "
              "kit-collab-proxy logs --tail 50 caddy")


def tls_finding(service: str, obs: TlsObservation, now: datetime, skipped: int = 0) -> Finding:
    check = f"https {obs.host}"
    tail = tr(f" ({skipped} contrôles de ce nom non faits)",
              f" ({skipped} checks of this name not run)") if skipped else ""
    if obs.verify_code is not None:
        message, fix = _verify_failure(obs, now)
        return Finding(ERROR, service, check, message + tail, fix)
    if obs.error or obs.cert is None:
        return Finding(ERROR, service, check, tr(
            f"connexion HTTPS impossible à {obs.host} ({obs.where}) : {obs.error}{tail}",
            f"cannot connect over HTTPS to {obs.host} ({obs.where}): {obs.error}{tail}"), tr(
            "vérifiez que le proxy tourne (kit-collab status) et que le port 443 est ouvert ; "
            + _proxy_logs_fix(), "check that the proxy runs (kit-collab status) and port 443 "
            "is open; " + _proxy_logs_fix()))
    cert = obs.cert
    left = cert.not_after - now
    lifetime = cert.not_after - cert.not_before
    # Warn under 14 days, or under a quarter of the lifetime for short-lived certificates
    # (Caddy's internal authority issues 12-hour ones): renewal should have happened by then.
    threshold = min(timedelta(days=WARN_DAYS), lifetime / 4)
    days = left.days
    remaining = tr(f"dans {days} jours", f"in {days} days") if days >= 1 else tr(
        f"dans {int(left.total_seconds() // 3600)} h", f"in {int(left.total_seconds() // 3600)} h")
    text = tr(f"certificat valide pour {obs.host}, émis par {cert.issuer}, expire le "
              f"{_date(cert.not_after)} ({remaining})",
              f"valid certificate for {obs.host}, issued by {cert.issuer}, expires on "
              f"{_date(cert.not_after)} ({remaining})")
    if left < threshold:
        return Finding(WARNING, service, check, text, tr(
            "le renouvellement automatique semble bloqué : vérifiez le DNS et le port 80, puis "
            "les " + _proxy_logs_fix(), "automatic renewal seems stuck: check DNS and port 80, "
            "then the " + _proxy_logs_fix()))
    return Finding(OK, service, check, text)


def _verify_failure(obs: TlsObservation, now: datetime) -> tuple[str, str]:
    """The sentence and the fix for a certificate the verification refused."""
    cert, code = obs.cert, obs.verify_code
    if code == _EXPIRED or (cert and cert.not_after < now and code not in (
            _HOSTNAME_MISMATCH, _SELF_SIGNED)):
        return _expired(obs, now)
    if code == _NOT_YET_VALID:
        return _not_yet_valid(obs)
    if code == _HOSTNAME_MISMATCH:
        return _other_name(obs)
    if code == _SELF_SIGNED or (cert and cert.self_issued):
        who = f" ({cert.subject})" if cert else ""
        return tr(f"le certificat HTTPS de {obs.host} est auto-signé{who} : navigateurs et "
                  "applications le refusent",
                  f"the HTTPS certificate of {obs.host} is self-signed{who}: browsers and apps "
                  "refuse it"), _unknown_authority_fix()
    if code in (_SELF_SIGNED_IN_CHAIN, _NO_LOCAL_ISSUER, _NO_LEAF_ISSUER):
        issuer = cert.issuer if cert else "?"
        return tr(f"le certificat HTTPS de {obs.host} est émis par « {issuer} », une autorité "
                  "inconnue de cette machine", f"the HTTPS certificate of {obs.host} is issued "
                  f"by '{issuer}', an authority unknown to this machine"), _unknown_authority_fix()
    return tr(f"certificat HTTPS de {obs.host} refusé : {obs.verify_message}",
              f"HTTPS certificate of {obs.host} refused: {obs.verify_message}"), _proxy_logs_fix()


def _expired(obs: TlsObservation, now: datetime) -> tuple[str, str]:
    cert = obs.cert
    when = tr(f" le {_date(cert.not_after)} (il y a {(now - cert.not_after).days} jours)",
              f" on {_date(cert.not_after)} ({(now - cert.not_after).days} days ago)") \
        if cert else ""
    return tr(f"le certificat HTTPS de {obs.host} a expiré{when}",
              f"the HTTPS certificate of {obs.host} has expired{when}"), tr(
        "le proxy n'a pas pu le renouveler : vérifiez que le DNS pointe vers le serveur et "
        "que le port 80 est ouvert, puis les " + _proxy_logs_fix(),
        "the proxy could not renew it: check that DNS points to the server and port 80 "
        "is open, then the " + _proxy_logs_fix())


def _not_yet_valid(obs: TlsObservation) -> tuple[str, str]:
    cert = obs.cert
    start = tr(f" qu'à partir du {_date(cert.not_before)}",
               f" from {_date(cert.not_before)}") if cert else tr(" pas encore", " yet")
    return tr(f"le certificat HTTPS de {obs.host} n'est valable{start}",
              f"the HTTPS certificate of {obs.host} is only valid{start}"), tr(
        "l'horloge du serveur ou de cette machine est fausse : activez la synchronisation "
        "de l'heure (timedatectl set-ntp true)", "the server's or this machine's clock is "
        "wrong: turn on time synchronisation (timedatectl set-ntp true)")


def _other_name(obs: TlsObservation) -> tuple[str, str]:
    host, cert = obs.host, obs.cert
    names = ", ".join(cert.names) if cert and cert.names else "?"
    return tr(f"le certificat présenté à {obs.where} pour {host} est celui d'un autre nom "
              f"({names})", f"the certificate presented at {obs.where} for {host} is for "
              f"another name ({names})"), tr(
        f"le proxy ne sert pas encore {host} : relancez kit-collab install, et vérifiez "
        f"que le DNS de {host} mène à ce serveur (et non à un autre site)",
        f"the proxy does not serve {host} yet: run kit-collab install again, and check "
        f"that {host}'s DNS leads to this server (not another site)")


def _unknown_authority_fix() -> str:
    return tr(
        "avec l'autorité interne de Caddy (certificats: interne), donnez son certificat racine "
        "avec --ca-cert (sur le serveur : docker compose -p kit-collab-proxy exec caddy cat "
        "/data/caddy/pki/authorities/local/root.crt) ; sinon passez serveur.certificats.mode à "
        "acme et vérifiez les " + _proxy_logs_fix(),
        "with Caddy's internal authority (certificats: interne), give its root certificate "
        "with --ca-cert (on the server: docker compose -p kit-collab-proxy exec caddy cat "
        "/data/caddy/pki/authorities/local/root.crt); otherwise set serveur.certificats.mode "
        "to acme and check the " + _proxy_logs_fix())
