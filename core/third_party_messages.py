"""Messages of the admin's libraries that their catalogues leave without Vietnamese (Django
5.2's own Vietnamese lacks its newer admin strings; django-import-export and
django-simple-history ship no Vietnamese at all). Our catalogue in locale/ translates them:
Django reads LOCALE_PATHS before the apps' catalogues.

Nothing imports this module. It exists so that `makemessages` finds these msgids in our
source and keeps them in locale/vi/LC_MESSAGES/django.po. tests/test_admin_vietnamese.py
fails when an admin page of ours shows a message nobody translated."""

from django.utils.translation import gettext_noop

MESSAGES = [
    # django.contrib.admin
    gettext_noop("Add link"),
    gettext_noop("Breadcrumbs"),
    gettext_noop("Change or view list link"),
    gettext_noop("Filter navigation items"),
    gettext_noop("Model name"),
    gettext_noop("Select all objects on this page for an action"),
    gettext_noop("Select this object for an action - {}"),
    gettext_noop("Show counts"),
    gettext_noop("Sidebar"),
    gettext_noop("Skip to main content"),
    gettext_noop("Toggle navigation"),
    gettext_noop("Toggle theme (current theme: auto)"),
    gettext_noop("Toggle theme (current theme: dark)"),
    gettext_noop("Toggle theme (current theme: light)"),
    gettext_noop("View selected %(model)s"),
    # Django's Vietnamese says "Bản ghi nhớ" (a memo) for the admin's History.
    gettext_noop("History"),
    # django-import-export
    gettext_noop(
        "Below is a preview of data to be imported. If you are satisfied with the results, "
        "click 'Confirm import'"
    ),
    gettext_noop("File to import"),
    gettext_noop("Format"),
    gettext_noop(
        "Please correct these errors in your data where possible, then reupload it using the "
        "form above."
    ),
    gettext_noop("Preview"),
    gettext_noop("Some rows failed to validate"),
    gettext_noop("Submit"),
    # django-simple-history
    gettext_noop("Change reason"),
    gettext_noop("Object"),
    # django-rest-framework-api-key
    gettext_noop("Expires"),
    gettext_noop("Once API key expires, clients cannot use it anymore."),
]
