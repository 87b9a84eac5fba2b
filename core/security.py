"""Content-Security-Policy for every response: our pages load scripts, styles and images
from our own origin only (no CDN), and nobody may frame them."""

POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # The admin and Swagger UI set style attributes; styles cannot run code.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", POLICY)
        return response
