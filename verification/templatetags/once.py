"""`{% once_per_language %}…{% endonce_per_language %}`: markup rendered once per language and
process, then reused: the frame every public page shares (head, header, navigation) and the
lookup page's fixed parts. Each {% url %}, {% static %} and {% translate %} in them otherwise
costs 5 to 10 µs on every request: the frame alone took about 0.2 ms of each page.

What it holds may depend on the active language and the process's constants (URLs, the
static files' names) only: never on the request, the user or the database. The rendered text
is kept on the compiled template, which Django's cached loader keeps for the process.

`{% once_per_language unless <condition> %}` (a condition as {% if %} reads it): while the
condition holds, the content is rendered afresh and not kept. A lookup field is the same on
every page until it shows an error or what was typed: `unless errors.number or typed.number`."""

from django import template
from django.template.defaulttags import TemplateIfParser
from django.template.loader_tags import BlockNode
from django.utils import translation

register = template.Library()


class OncePerLanguageNode(template.Node):
    def __init__(self, nodelist, unless=None):
        self.nodelist = nodelist
        self.unless = unless
        self.rendered: dict[str, str] = {}

    def render(self, context):
        if self.unless is not None and self.unless.eval(context):
            return self.nodelist.render(context)
        language = translation.get_language()
        if language not in self.rendered:
            # Two threads may render it at once the first time: the same text, either kept.
            self.rendered[language] = self.nodelist.render(context)
        return self.rendered[language]


@register.tag
def once_per_language(parser, token):
    bits = token.split_contents()[1:]
    unless = None
    if bits:
        if bits[0] != "unless" or len(bits) < 2:
            raise template.TemplateSyntaxError(
                "once_per_language takes nothing, or 'unless' and a condition"
            )
        unless = TemplateIfParser(parser, bits[1:]).parse()
    nodelist = parser.parse(("endonce_per_language",))
    parser.delete_first_token()
    if nodelist.get_nodes_by_type(BlockNode):
        # A block is filled by the page that extends the template: it differs page to page.
        raise template.TemplateSyntaxError("once_per_language cannot hold a {% block %}")
    return OncePerLanguageNode(nodelist, unless)
