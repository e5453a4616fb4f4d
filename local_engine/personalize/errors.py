"""The one error type the emulator raises for API-level failures."""

from __future__ import annotations

# Client errors in AWS's JSON protocol answer with HTTP 400 unless the error
# says otherwise.
CLIENT_ERROR_STATUS = 400


class PersonalizeError(Exception):
    """An AWS service error: ``code`` is the error shape name botocore maps to
    ``client.exceptions.<code>`` (e.g. ``ResourceNotFoundException``) when the
    service model defines it, and ``http_status`` the status it is sent with."""

    def __init__(self, code: str, message: str, *, http_status: int = CLIENT_ERROR_STATUS) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


def not_found(arn: str) -> PersonalizeError:
    return PersonalizeError("ResourceNotFoundException", f"Resource {arn} does not exist.")


def invalid_input(message: str) -> PersonalizeError:
    return PersonalizeError("InvalidInputException", message)


def in_use(message: str) -> PersonalizeError:
    return PersonalizeError("ResourceInUseException", message)
