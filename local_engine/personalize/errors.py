"""The one error type the emulator raises for API-level failures."""

from __future__ import annotations


class PersonalizeError(Exception):
    """An AWS service error: ``code`` is the error shape name botocore maps to
    ``client.exceptions.<code>`` (e.g. ``ResourceNotFoundException``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def not_found(arn: str) -> PersonalizeError:
    return PersonalizeError("ResourceNotFoundException", f"Resource {arn} does not exist.")


def invalid_input(message: str) -> PersonalizeError:
    return PersonalizeError("InvalidInputException", message)


def in_use(message: str) -> PersonalizeError:
    return PersonalizeError("ResourceInUseException", message)
