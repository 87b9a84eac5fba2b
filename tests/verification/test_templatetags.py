"""{% once_per_language %}: the public pages' frame, rendered once per language and process."""

import pytest
from django.template import Context, Engine, TemplateSyntaxError
from django.utils import translation

ENGINE = Engine(
    libraries={"once": "verification.templatetags.once", "i18n": "django.templatetags.i18n"}
)


def template(source: str):
    return ENGINE.from_string("{% load i18n once %}" + source)


def render(compiled, language: str, **context) -> str:
    with translation.override(language):
        return compiled.render(Context(context))


def test_it_renders_its_content_once_per_language_and_reuses_it():
    compiled = template("{% once_per_language %}{{ value }}{% endonce_per_language %}|{{ value }}")
    assert render(compiled, "vi", value="first") == "first|first"
    assert render(compiled, "vi", value="second") == "first|second"
    assert render(compiled, "en", value="third") == "third|third"
    assert render(compiled, "vi", value="fourth") == "first|fourth"


def test_each_language_gets_its_own_translation():
    compiled = template('{% once_per_language %}{% translate "Check" %}{% endonce_per_language %}')
    assert render(compiled, "en") == "Check"
    assert render(compiled, "vi") == "Kiểm tra"
    assert render(compiled, "en") == "Check"


def test_it_refuses_a_block_which_the_page_extending_it_fills():
    with pytest.raises(TemplateSyntaxError):
        template(
            "{% once_per_language %}{% block title %}x{% endblock %}{% endonce_per_language %}"
        )


def test_unless_its_condition_holds_it_renders_afresh_and_keeps_nothing():
    compiled = template(
        "{% once_per_language unless typed or error %}[{{ typed }}]{% endonce_per_language %}"
    )
    assert render(compiled, "vi", typed="0912") == "[0912]"
    assert render(compiled, "vi", error=True, typed="") == "[]"
    assert render(compiled, "vi", typed="0988") == "[0988]"
    assert render(compiled, "vi") == "[]"
    assert render(compiled, "vi", typed="0977") == "[0977]"


@pytest.mark.parametrize("arguments", ["unless", "when x", "x"])
def test_it_takes_nothing_or_unless_and_a_condition(arguments):
    with pytest.raises(TemplateSyntaxError):
        template(f"{{% once_per_language {arguments} %}}x{{% endonce_per_language %}}")
