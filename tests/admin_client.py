"""Helpers for driving the admin as a browser would."""

from html.parser import HTMLParser

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice


def pass_second_factor(client: Client, user) -> TOTPDevice:
    """Leave in `client`'s session what a correct authenticator code leaves there (config.
    twofactor.second_factor_pass): the user's confirmed device, made if missing. The real
    code path is tested in tests/test_admin_two_factor.py."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return device


class AdminClient(Client):
    """A test client whose force_login also passes the admin's second factor for staff, as
    every signed-in operator has. tests/conftest.py makes it the `client` fixture."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        if user.is_staff:
            pass_second_factor(self, user)


class _FormParser(HTMLParser):
    """The fields a browser would submit from the form with id `form_id`: enabled inputs
    (checked ones only for checkboxes and radios), selected options, textareas."""

    def __init__(self, form_id: str):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.data: dict[str, list[str]] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def _add(self, name: str | None, value: str) -> None:
        if name:
            self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("id") == self.form_id:
            self.inside = self.found = True
            return
        if not self.inside or "disabled" in attrs:
            return
        if tag == "input":
            kind = (attrs.get("type") or "text").lower()
            if kind in {"submit", "button", "image", "reset", "file"}:
                return
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self._add(attrs.get("name"), attrs.get("value") or "on")
                return
            self._add(attrs.get("name"), attrs.get("value") or "")
        elif tag == "select":
            self._select = attrs.get("name")
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value") or "")
        elif tag == "textarea":
            self._textarea, self._text = attrs.get("name"), []

    def handle_data(self, data):
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            # A browser drops the one newline that follows <textarea>.
            self._add(self._textarea, "".join(self._text).removeprefix("\n"))
            self._textarea = None


def browser_form(response, form_id: str) -> dict[str, list[str]]:
    """What a browser would send back, unchanged, from the form `form_id` of a page (an
    admin change form is `<model_name>_form`), with the "Save" button pressed."""
    parser = _FormParser(form_id)
    parser.feed(response.content.decode())
    assert parser.found, f"no form #{form_id} on the page"
    return {**parser.data, "_save": ["Save"]}
