"""The API's JSON parser: DRF's, refusing two things `json.load` lets through.

- Nesting deeper than the interpreter's stack: `[[[[…` a hundred thousand times deep is
  100 KB, well under the body limit, and makes `json.load` raise RecursionError, which is
  not a ValueError and so escaped DRF's parser as a 500.
- Strings with lone surrogates: `"\\ud800"` is valid JSON but not Unicode text. PostgreSQL
  refuses it, and so does the UTF-8 encoder writing an error message that quotes it.

Both answer 400 `malformed_body`, like any other body that is not JSON.
"""

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _is_unicode_text(value) -> bool:
    """Whether every string in the parsed document, keys included, encodes as UTF-8.
    Walked with a stack rather than recursion: the document may be as deep as the parser
    allowed."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("The JSON body is nested too deeply.")) from None
        if not _is_unicode_text(data):
            raise ParseError(_("The JSON body holds text that is not valid Unicode."))
        return data
