"""A DNS server on loopback for `kit-collab check --dns`: the commune's names point at the
test server, as the secretary's registrar records would; any other name is NXDOMAIN. Only
this test's own queries reach it (UDP on 127.0.0.1, a free port)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    def __init__(self, records: dict[str, str]) -> None:
        self.records = {name.rstrip(".").lower(): ip for name, ip in records.items()}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.5)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _answer(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        ip = self.records.get(name)
        if ip is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.A:
            reply.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", ip))
        return reply.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except OSError:
                continue
            self.queries += 1
            answer = self._answer(data)
            if answer is not None:
                self.sock.sendto(answer, peer)

    def start(self) -> DnsStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@contextlib.contextmanager
def running(records: dict[str, str]) -> Iterator[DnsStub]:
    stub = DnsStub(records).start()
    try:
        yield stub
    finally:
        stub.stop()
