"""Requests the registry makes to addresses others chose (carriers' webhook URLs).

A webhook URL is a request the server makes on a carrier's say-so: without these checks one
could point it at Redis on 127.0.0.1:6379, the cloud's metadata service at 169.254.169.254
or anything else on the private network, and the worker would POST there. So: https only
(plain http only with DEBUG, for a developer's own receiver), every address the name
resolves to must be public, the check is made when the URL is saved and again at each
delivery (a name can be re-pointed in between), the connection goes to the very address
that was checked (no second lookup to rebind), and redirects are not followed.
"""

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


class UnsafeUrl(ValueError):
    """A URL the registry refuses to send anything to; the message says why."""


def _allowed_networks():
    return [ipaddress.ip_network(net) for net in settings.WEBHOOK_ALLOWED_NETWORKS]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if any(address in network for network in _allowed_networks()):
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast and not address.is_reserved


def checked_address(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address) of a URL the registry may POST to, `address` being the
    public IP the connection must go to; raises UnsafeUrl otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeUrl(_("This is not a valid URL.")) from None
    allowed = {"https", "http"} if settings.WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in allowed:
        raise UnsafeUrl(_("A webhook URL must start with https://."))
    host = parts.hostname
    if not host or parts.username or parts.password:
        raise UnsafeUrl(_("A webhook URL needs a host name and no user name or password."))
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeUrl(_("The webhook's host name cannot be resolved.")) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    # Every address must be public: a name with one public and one private address would
    # otherwise reach the private one whenever the resolver put it first.
    if not addresses or not all(_is_public(address) for address in addresses):
        raise UnsafeUrl(
            _("A webhook URL must point to a public internet address, not a private network.")
        )
    return parts.scheme, host, port, str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    """POST `body` to `url` after checking it; the response's status (a redirect is just a
    status: it is not followed). Raises UnsafeUrl or OSError."""
    scheme, host, port, address = checked_address(url)
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address, timeout)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(1024)
        return response.status
    finally:
        connection.close()
