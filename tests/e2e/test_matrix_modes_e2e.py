"""Matrix never takes the town's website (issue 14, item 8), end to end: each way Matrix
identifiers find their server (services.matrix.identifiants), installed by kit-collab on a
fresh Debian 13 server of the bed, with `check` reading the delegation files from a separate
"website" container, where the bed's DNS stub (dnsstub.py) sends the commune's domain.

The bed here is this module's own (bed.py: registry, fresh server; plus the website: the
bed's real Caddy serving a static folder over HTTPS with its own internal authority), so
that the scenario's server stays fresh for test_scenario.py. Two communes share the server,
each with Matrix only (Synapse, its PostgreSQL, Element, coturn, the proxy):

- M1. domaine-vers-serveur while the domain's website answers elsewhere: `check` names the
  website and `install` refuses, nothing changed on the server;
- M2. site-existant: installed; before the webmaster adds the two files, `check` reports them
  missing on the website with the instructions; once added to the website container, the
  delegation is green, and the agents' identifiers are @agent:<domaine>;
- M3. sous-domaine: identifiers @agent:matrix.<domaine>, the files served by Synapse's own
  name, nothing served on the domain by this server.
Each phase prints its time. Run with:
    python -m pytest -m e2e tests/e2e/test_matrix_modes_e2e.py -q -s
"""

from __future__ import annotations

import itertools
import json
import os
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import dnsstub
from tests.e2e.bed import SERVER_USER, Bed
from tests.e2e.test_scenario import MIRROR, Run, Scenario, _phase
from tests.e2e.timings import record, summary

pytestmark = pytest.mark.e2e

SITE = "saint-site-kce2e.test"  # keeps its website (site-existant)
SUB = "saint-sous-kce2e.test"  # identifiers under matrix.<domaine> (sous-domaine)
NAMES = ("matrix.", "discussion.", "turn.")
AGENT = {"identifiant": "mdupont", "nom": "Marie Dupont", "role": "administrateur",
         "services_municipaux": ["accueil"]}
ROOT_DIR = "/opt/kit-collab"


def profile_data(bed: Bed, domain: str, mode: str, *, federation: bool = False
                 ) -> dict[str, Any]:
    matrix: dict[str, Any] = {"actif": True, "identifiants": mode, "federation": federation}
    if mode == "domaine-vers-serveur":
        matrix["site_web"] = f"https://www.{domain}"
    return {
        "commune": {"nom": f"Commune {domain.split('-')[1]}", "domaine": domain,
                    "email_contact": f"mairie@{domain}"},
        "serveur": {"hote": bed.server_ip, "utilisateur": SERVER_USER,
                    "cle_ssh": str(bed.key_file), "empreinte_hote": bed.fingerprint,
                    "hebergeur": "banc de test kce2e", "pays": "FR",
                    "miroir_registre": MIRROR, "certificats": {"mode": "interne"}},
        "services": {"nextcloud": {"actif": False}, "jitsi": {"actif": False},
                     "matrix": matrix},
        "services_municipaux": [{"id": "accueil", "nom": "Accueil"}],
        "utilisateurs": [{**AGENT, "email": f"marie.dupont@{domain}"}],
    }


class Modes:
    """The module's bed, its website and DNS, and one Scenario (kit-collab's CLI) per
    commune profile."""

    def __init__(self, bed: Bed, workdir: Path, dns: dnsstub.DnsStub, code_dir: Path) -> None:
        self.bed, self.workdir, self.dns, self.code_dir = bed, workdir, dns, code_dir
        self.passed: set[str] = set()
        self.ca_bundle = workdir / "ca-bundle.pem"

    def commune(self, domain: str, mode: str, **kw: Any) -> Scenario:
        sc = Scenario(self.bed, self.workdir, self.workdir / f"{domain}.yaml", self.dns,
                      self.code_dir)
        sc.write_profile(profile_data(self.bed, domain, mode, **kw))
        return sc

    def trust(self) -> Path:
        """One file with both authorities check must trust: the server's Caddy (internal
        certificates) and the website's (a real site has a public one)."""
        proxy = self.bed.containers("kit-collab-proxy")
        caddy = next(c["id"] for s, c in proxy.items() if "caddy" in s or "proxy" in s)
        server_ca = self.bed.sh(f"docker exec {caddy} cat "
                                "/data/caddy/pki/authorities/local/root.crt").stdout
        assert "BEGIN CERTIFICATE" in server_ca, proxy
        self.ca_bundle.write_text(server_ca + self.bed.website_ca(), encoding="ascii")
        return self.ca_bundle

    def check(self, sc: Scenario, *, human: bool = False) -> tuple[Run, Any]:
        """`kit-collab check` as the secretary runs it (the DNS stub, every name of the server
        at its address, the two authorities trusted); JSON report, or the text."""
        args = ("--ca-cert", str(self.trust()))
        if not human:
            return sc.check(*args, deadline=120)
        run = sc.kit("check", str(sc.profile), "--dns", self.dns.address, "--resolve",
                     f"*:{self.bed.server_ip}", "--deadline", "30", *args)
        return run, run.out

    def require(self, *phases: str) -> None:
        missing = [p for p in phases if p not in self.passed]
        if missing:
            pytest.skip(f"an earlier phase failed: {', '.join(missing)}")


def _delegation(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["controle"]: c for c in report["constats"]
            if c["controle"].startswith("delegation ")}


def _problems(report: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every finding that is not ok, but the bed's private address and the absent
    `sauvegardes:` section (both rightly warnings)."""
    return [(c["niveau"], c["controle"], c["message"]) for c in report["constats"]
            if c["niveau"] != "ok" and not (c["niveau"] == "avertissement" and c["controle"] in
                                            ("adresse publique", "sauvegardes"))]


@pytest.fixture(scope="module")
def modes(e2e_images: None, e2e_workdir: Path, kit_snapshot: Path) -> Iterator[Modes]:
    workdir = e2e_workdir / "modes"
    workdir.mkdir(mode=0o700)
    the_bed = Bed(workdir)
    try:
        the_bed.start()
        the_bed.start_website(SITE)
        for what, seconds in the_bed.timings:
            record(f"modes {what}", seconds)
        print(f"[kce2e] modes: server {the_bed.server_ip} ({the_bed.server}), website "
              f"{the_bed.website_ip} ({the_bed.website})", flush=True)
        # The registrar's records: the server's names at the server; each commune's domain
        # at its website, elsewhere.
        records = {f"{p}{d}": the_bed.server_ip for p in NAMES for d in (SITE, SUB)}
        records.update({SITE: the_bed.website_ip, SUB: the_bed.website_ip})
        with dnsstub.running(records) as dns:
            yield Modes(the_bed, workdir, dns, kit_snapshot)
    finally:
        if os.environ.get("KCE2E_KEEP"):
            print(f"\n[kce2e] KCE2E_KEEP set: {the_bed.server} and {the_bed.website} kept")
        else:
            the_bed.stop()
            record("modes test bed removed", the_bed.timings[-1][1])
        summary()  # the phases so far (the session's bed prints the whole run's at its end)


def _site_https(m: Modes, path: str) -> httpx.Response:
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cadata=m.bed.website_ca())
    with httpx.Client(verify=ctx, timeout=10, trust_env=False) as client:
        return client.get(f"https://{m.bed.website_ip}{path}", headers={"Host": SITE},
                          extensions={"sni_hostname": SITE})


# ---------------------------------------------------------------------------------------------
# M1. The preflight refuses pointing a domain whose website answers elsewhere


def test_m1_preflight_refuses_taking_a_live_website(modes: Modes) -> None:
    m = modes
    with _phase("M1. domaine-vers-serveur, a website answers elsewhere → refused"):
        deadline = time.monotonic() + 30
        while _site_https(m, "/").status_code != 200:
            assert time.monotonic() < deadline, "the website does not answer"
            time.sleep(0.5)
        sc = m.commune(SITE, "domaine-vers-serveur")
        run, report = sc.check(deadline=10)
        guard = [c for c in report["constats"] if c["controle"] == "site web"]
        assert run.code == 1, report
        assert [c["niveau"] for c in guard] == ["erreur"], report["constats"]
        assert f"un site web répond sur https://{SITE} ({m.bed.website_ip}" in \
            guard[0]["message"]
        assert "serait hors ligne" in guard[0]["message"]
        assert "site-existant" in guard[0]["correction"]
        refused = sc.kit("install", str(sc.profile), "--yes")
        assert refused.code == 1, refused.out
        assert "rien n'a été changé" in refused.out, refused.out
        left = m.bed.sh(f"ls {ROOT_DIR}/communes 2>&1; command -v docker || true",
                        check=False).stdout
        assert "/docker" not in left and SITE.replace(".", "-") not in left, left
    m.passed.add("refused")


# ---------------------------------------------------------------------------------------------
# M2. site-existant: the website keeps its place and serves two small files


def test_m2_existing_website_files_missing_then_added(modes: Modes) -> None:
    m = modes
    with _phase("M2a. site-existant: install (bootstrap, Matrix only)"):
        sc = m.commune(SITE, "site-existant", federation=True)
        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        if run.code != 0:
            pytest.fail(f"install failed\n{run.out[-6000:]}\n"
                        f"{m.bed.diagnostics(SITE.replace('.', '-'))}")
        # The install prints what the webmaster publishes.
        assert f"https://{SITE}/.well-known/matrix/client" in run.out, run.out
        assert f"https://{SITE}/.well-known/matrix/server" in run.out, run.out
    m.passed.add("site-install")

    with _phase("M2b. site-existant: files missing on the website → check says so"):
        run, report = m.check(sc)
        found = _delegation(report)
        assert run.code == 1, report
        assert {k: v["niveau"] for k, v in found.items()} == {
            "delegation client": "erreur", "delegation server": "erreur"}, found
        for finding in found.values():
            assert "sur le site web de la commune" in finding["message"], finding
            assert "statut 404" in finding["message"], finding
            assert "webmestre" in finding["correction"], finding
        assert [p for p in _problems(report) if not p[1].startswith("delegation ")] == []
        # The instructions, with the exact content of each file.
        lines = report["delegation_matrix"]
        documents = {}
        for url, content in itertools.pairwise(lines):
            if url.strip().startswith(f"https://{SITE}/.well-known/matrix/"):
                documents[url.strip().rsplit("/", 1)[1]] = content.split(" : ", 1)[1]
        assert set(documents) == {"client", "server"}, lines
        assert json.loads(documents["client"]) == {
            "m.homeserver": {"base_url": f"https://matrix.{SITE}"}}
        assert json.loads(documents["server"]) == {"m.server": f"matrix.{SITE}:443"}
        human, text = m.check(sc, human=True)
        assert human.code == 1
        assert "Access-Control-Allow-Origin" in text and "contenu exact" in text, text
    m.passed.add("site-missing")

    with _phase("M2c. site-existant: the webmaster adds the two files → green"):
        for name, content in documents.items():
            m.bed.website_put(f".well-known/matrix/{name}", content + "\n")
        served = _site_https(m, "/.well-known/matrix/client")
        assert served.status_code == 200 and served.headers["access-control-allow-origin"] \
            == "*", served.headers
        run, report = m.check(sc)
        found = _delegation(report)
        assert {k: v["niveau"] for k, v in found.items()} == {
            "delegation client": "ok", "delegation server": "ok"}, found
        assert _problems(report) == [], _problems(report)
        assert run.code == 0, report
        status, body = _login(m, SITE)
        assert status == 200 and body["user_id"] == f"@{AGENT['identifiant']}:{SITE}", body
    m.passed.add("site-green")


def _login(m: Modes, domain: str) -> tuple[int, dict[str, Any]]:
    """The agent logs in through the server's Caddy (its internal authority)."""
    uid = str(AGENT["identifiant"])
    password = m.bed.secrets_json(domain.replace(".", "-"))["comptes"][uid]
    ctx = ssl.create_default_context(cafile=str(m.ca_bundle))
    host = f"matrix.{domain}"
    with httpx.Client(verify=ctx, timeout=20, trust_env=False) as client:
        resp = client.post(f"https://{m.bed.server_ip}/_matrix/client/v3/login",
                           headers={"Host": host}, extensions={"sni_hostname": host},
                           json={"type": "m.login.password",
                                 "identifier": {"type": "m.id.user", "user": uid},
                                 "password": password})
    return resp.status_code, resp.json()


# ---------------------------------------------------------------------------------------------
# M3. sous-domaine: identifiers under Synapse's own name, nothing on the domain


def test_m3_sub_domain_identifiers_nothing_on_the_domain(modes: Modes) -> None:
    m = modes
    m.require("site-install")
    with _phase("M3. sous-domaine: a second commune on the server, green"):
        sc = m.commune(SUB, "sous-domaine")
        run = sc.kit("install", str(sc.profile), "--yes", "--force")
        if run.code != 0:
            pytest.fail(f"install failed\n{run.out[-6000:]}\n"
                        f"{m.bed.diagnostics(SUB.replace('.', '-'))}")
        assert "/.well-known/matrix/" not in run.out  # nothing for a webmaster to do
        run, report = m.check(sc)
        assert run.code == 0, report
        assert _problems(report) == [], _problems(report)
        found = _delegation(report)
        assert {k: v["niveau"] for k, v in found.items()} == {"delegation server": "ok"}
        assert f"https://matrix.{SUB}/.well-known/matrix/server" in \
            found["delegation server"]["message"]
        assert "delegation_matrix" not in report
        status, body = _login(m, SUB)
        assert status == 200 and body["user_id"] == f"@{AGENT['identifiant']}:matrix.{SUB}"
        # Nothing is served on the domain by this server: no site, no certificate for it.
        ctx = ssl.create_default_context(cafile=str(m.ca_bundle))
        with httpx.Client(verify=ctx, timeout=10, trust_env=False) as client, \
                pytest.raises(httpx.HTTPError):
            client.get(f"https://{m.bed.server_ip}/.well-known/matrix/client",
                       headers={"Host": SUB}, extensions={"sni_hostname": SUB})
        # The first commune is untouched by the second.
        run, report = m.check(m.commune(SITE, "site-existant", federation=True))
        assert run.code == 0, _problems(report)
    m.passed.add("sub-domain")
