"""What every part of the site shares and no app owns: the cache, rate limits, the API's
error shape and parsers, generic serializer fields, OpenAPI helpers, security headers,
language, logging, health, metrics, request bodies, outbound HTTP, admin lockout and
two-factor sign-in, and the read replica. It imports no app of ours; config/ wires it into
settings."""
