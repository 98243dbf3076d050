"""A real DNS server on 127.0.0.1 (UDP) whose answers a test scripts: the attacker's server in
the DNS rebinding tests. Chorus is pointed at it with settings.CHORUS_DNS_SERVERS.

    with DnsServer() as dns:
        dns.answers["hooks.rebind.test"] = ["127.0.0.2", "127.0.0.1"]  # first, then the rest
        settings.CHORUS_DNS_SERVERS = [dns.address]

Each A query for a name takes the next answer (the last one repeats) and is recorded in
`dns.asked`; AAAA queries get an empty answer; unknown names get NXDOMAIN. TTL 0, as a
rebinding attacker would set.
"""

from __future__ import annotations

import socket
import threading

import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DnsServer:
    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.asked: list[tuple[str, str]] = []  # (name, type) of every query, in order
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="test-dns", daemon=True)

    @property
    def address(self) -> str:
        host, port = self._sock.getsockname()
        return f"{host}:{port}"

    def a_queries(self, name: str) -> int:
        with self._lock:
            return sum(1 for n, t in self.asked if n == name and t == "A")

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        with self._lock:
            self.asked.append((name, kind))
            queue = self.answers.get(name)
            if queue is None:
                response.set_rcode(dns.rcode.NXDOMAIN)
                return response
            if kind != "A":
                return response  # the name exists, with no address of that type
            address = queue.pop(0) if len(queue) > 1 else queue[0]
        response.answer.append(
            dns.rrset.from_text(question.name, 0, dns.rdataclass.IN, "A", address)
        )
        return response

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # noqa: BLE001 - not a DNS query: ignore it
                continue
            self._sock.sendto(self._answer(query).to_wire(), peer)

    def __enter__(self) -> DnsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()
