"""The one base of every error a caller can fix. core.errors maps it to the API's error
shape once; the admin and the pages show its message on the form."""


class ApplicationError(Exception):
    """`code`: a stable snake_case name; `message`: for a person; `details`: what a program
    needs to act on it; `status`: the HTTP status the API answers with."""

    status = 400

    def __init__(self, code: str, message, details: dict | None = None, status: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        if status is not None:
            self.status = status
