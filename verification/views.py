"""Public pages for a recipient on a cheap phone: no JavaScript, no CDN, Vietnamese first.
Tracking codes and the recipient's own number travel in POST bodies, never in a URL."""

from django import forms
from django.conf import settings
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from config import ratelimit
from config.rates import parse_rate
from registry.services import RegistryError

from . import selectors, services


class LookupForm(forms.Form):
    number = forms.CharField(
        label=_("The number that is calling you"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"inputmode": "tel", "autocomplete": "off", "placeholder": "0912 345 678"}
        ),
    )
    claimed_carrier = forms.ChoiceField(
        label=_("Which carrier did the caller say they are from?"), required=False
    )
    tracking_code = forms.CharField(
        label=_("Your tracking code (optional)"),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    recipient_phone = forms.CharField(
        label=_("Your own phone number (optional)"),
        help_text=_(
            "Used only to check whether the carrier announced this call to you. Never stored."
        ),
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["claimed_carrier"].choices = [("", _("They did not say / I don't know"))] + [
            (entry["slug"], entry["name"]) for entry in selectors.carrier_directory()
        ]


def _rate_limited(request):
    retry_after = ratelimit.hit(
        f"web:{ratelimit.client_ip(request)}", parse_rate(settings.WEB_RATE_LIMIT)
    )
    if not retry_after:
        return None
    response = render(
        request, "verification/rate_limited.html", {"retry_after": retry_after}, status=429
    )
    response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "POST"])
def home(request):
    if request.method == "GET":
        return render(request, "verification/home.html", {"form": LookupForm()})
    limited = _rate_limited(request)
    if limited:
        return limited
    form = LookupForm(request.POST)
    if not form.is_valid():
        return render(request, "verification/home.html", {"form": form}, status=400)
    data = form.cleaned_data
    lookup = services.Lookup(
        claimed_carrier=data["claimed_carrier"] or None,
        tracking_code=data["tracking_code"].strip() or None,
        recipient_phone=data["recipient_phone"].strip() or None,
    )
    try:
        answer = services.verify(data["number"], lookup, with_receipt=True)
    except RegistryError as exc:
        field = exc.details.get("field", "number")
        form.add_error(field if field in form.fields else "number", exc.message)
        return render(request, "verification/home.html", {"form": form}, status=400)
    return render(
        request,
        "verification/home.html",
        {
            "form": LookupForm(initial={"claimed_carrier": data["claimed_carrier"]}),
            "answer": answer,
        },
    )


def carriers(request):
    return render(
        request, "verification/carriers.html", {"carriers": selectors.carrier_directory()}
    )
