"""Connections Chorus makes to hosts a member chose: git remotes, the GitHub API, alert webhooks.

A member can type any host name, so without care Chorus would be their way into the server's
own network (SSRF): cloud metadata at 169.254.169.254, Redis on 127.0.0.1, a CGNAT-addressed
metadata service. Three rules, shared by every such connection:

1. One resolver: `resolve(host)` asks the DNS servers in settings.CHORUS_DNS_SERVERS when set
   (through dnspython, no cache), else the system resolver (getaddrinfo).
2. One list of refused networks: `is_refused(ip)` (loopback, private, link-local, CGNAT,
   NAT64, IPv4-mapped IPv6, multicast, reserved) less the networks an operator trusts
   (settings.CHORUS_OUTBOUND_ALLOW: e.g. an internal GitHub Enterprise).
3. Connect to what was checked. Resolving again when connecting lets a DNS server answer a
   public address to the check and 127.0.0.1 to the connection (DNS rebinding). git gets the
   checked addresses through `http.curloptResolve` (components/sources/git/pinning.py); HTTP
   from Python goes through `pinned_session`, whose connections open a socket to the checked
   addresses only while TLS still verifies the certificate for the host name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import create_connection

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSED_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",  # loopback
        "::1/128",
        "0.0.0.0/8",  # "this host": connecting to 0.0.0.0 reaches the server itself
        "::/128",
        "10.0.0.0/8",  # private
        "172.16.0.0/12",
        "192.168.0.0/16",
        "fc00::/7",
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "fe80::/10",
        "100.64.0.0/10",  # carrier-grade NAT (some clouds' metadata services live here)
        "64:ff9b::/96",  # NAT64: reaches any IPv4 address, private ones included
        "64:ff9b:1::/48",  # local-use NAT64
        "::ffff:0:0/96",  # IPv4-mapped IPv6: the kernel connects to the IPv4 address
        "224.0.0.0/4",  # multicast
        "ff00::/8",
        "240.0.0.0/4",  # reserved, and the broadcast address
    )
)
DNS_TIMEOUT = 5.0


class Refused(Exception):
    """A host that may not be connected to: it does not resolve (ip None) or `ip`, one of its
    answers, is in a refused network. Callers word the message for their form."""

    def __init__(self, host: str, ip: Address | None = None) -> None:
        self.host, self.ip = host, ip
        super().__init__(
            f"Cannot resolve host “{host}”."
            if ip is None
            else f"{self.where} is a loopback, private or link-local address."
        )

    @property
    def where(self) -> str:
        """ "host (ip)", or just the address when the host was one."""
        return (
            self.host
            if self.ip is None or str(self.ip) == self.host
            else f"{self.host} ({self.ip})"
        )


def _allowed_networks() -> list:
    return [
        ipaddress.ip_network(n.strip(), strict=False)
        for n in getattr(settings, "CHORUS_OUTBOUND_ALLOW", ())
        if n.strip()
    ]


def is_refused(ip: Address) -> bool:
    if any(ip in net for net in _allowed_networks() if net.version == ip.version):
        return False
    return any(ip in net for net in REFUSED_NETWORKS if net.version == ip.version)


def _nameservers(spec: Iterable[str]):
    import dns.nameserver

    out = []
    for item in spec:
        item = item.strip()
        if not item:
            continue
        host, port = item, 53
        if item.startswith("["):  # [v6]:port
            host, _, rest = item[1:].partition("]")
            port = int(rest.lstrip(":") or 53)
        elif item.count(":") == 1:
            host, _, p = item.partition(":")
            port = int(p)
        out.append(dns.nameserver.Do53Nameserver(host, port))
    return out


def resolve(host: str) -> list[Address]:
    """Every address of `host` (an address literal is its own answer), in answer order.

    Raises OSError when the name does not resolve.
    """
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    servers = getattr(settings, "CHORUS_DNS_SERVERS", ())
    if servers:
        return _resolve_with(host, servers)
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except UnicodeError as exc:
        raise OSError(str(exc)) from exc
    out: list[Address] = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    return out


def _resolve_with(host: str, servers: Iterable[str]) -> list[Address]:
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = _nameservers(servers)
    resolver.lifetime = DNS_TIMEOUT
    out: list[Address] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, rdtype, raise_on_no_answer=False, search=False)
        except (dns.exception.DNSException, ValueError):
            continue
        for record in answer:
            ip = ipaddress.ip_address(record.address)
            if ip not in out:
                out.append(ip)
    if not out:
        raise OSError(f"{host} does not resolve")
    return out


def check_host(host: str, *, allow_private: bool = False) -> list[Address]:
    """Resolve `host` once; Refused when it does not resolve or (unless allow_private) when
    any answer is refused: one private answer is enough. Connect only to what it returns."""
    try:
        addresses = resolve(host)
    except OSError:
        raise Refused(host) from None
    if not allow_private:
        for ip in addresses:
            if is_refused(ip):
                raise Refused(host, ip)
    return addresses


# --- HTTP to the checked addresses ---------------------------------------------------------
def _connect_pinned(conn) -> socket.socket:
    """urllib3's _new_conn, but to the checked addresses of the connection's host only."""
    addresses = conn.pins.get(conn.host.lower())
    if not addresses:
        raise NewConnectionError(conn, f"Chorus did not check the host {conn.host}")
    last: OSError | None = None
    for ip in addresses:
        try:
            sock = create_connection(
                (str(ip), conn.port),
                conn.timeout,
                source_address=conn.source_address,
                socket_options=conn.socket_options,
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
            ) from exc
        except OSError as exc:
            last = exc
            continue
        return sock
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}")


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go to `pins[host]` (checked addresses) and
    nowhere else; TLS verifies the certificate for the host name as usual."""

    def __init__(self, pins: dict[str, list[Address]], **kwargs) -> None:
        self.pins = {host.lower(): list(addresses) for host, addresses in pins.items()}
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        attrs = {"pins": self.pins, "_new_conn": _connect_pinned}
        http = type("PinnedHTTPConnection", (HTTPConnection,), attrs)
        https = type("PinnedHTTPSConnection", (HTTPSConnection,), attrs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("PinnedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("PinnedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }


def pin(session: requests.Session, host: str, addresses: list[Address], **adapter_kwargs):
    """Make `session` connect to `addresses` for `host` (and refuse any other host)."""
    adapter = PinnedAdapter({host: addresses}, **adapter_kwargs)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    # A proxy from the environment would resolve the name itself.
    session.trust_env = False
    return session


def pinned_session(url: str, *, allow_private: bool = False) -> requests.Session:
    """A requests session for `url` whose host was checked now and is connected to at the
    checked addresses only. Raises Refused. Callers pass allow_redirects=False."""
    host = urlsplit(url).hostname or ""
    return pin(requests.Session(), host, check_host(host, allow_private=allow_private))
