"""The one error type of every operation, and the errors common to every product.

Every expected failure is an ``ApiError``; anything else is a bug and becomes ``InternalError``.
A product's errors that several operations share are factories in ``services/<product>/errors.py``;
an error only one check can raise is built inline beside that check.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the cloud would answer with: a code, an HTTP status and a message."""

    __slots__ = ("access_denied_detail", "code", "message", "status")

    def __init__(
        self,
        code: str,
        status: int,
        message: str,
        *,
        access_denied_detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.access_denied_detail = access_denied_detail

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.status}, {self.message!r})"


def missing_parameter(name: str) -> ApiError:
    return ApiError(
        "MissingParameter",
        400,
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def invalid_parameter(name: str, reason: str | None = None) -> ApiError:
    message = f'The specified parameter "{name}" is not valid.'
    if reason:
        message = f"{message} {reason}"
    return ApiError("InvalidParameter", 400, message)


def signature_does_not_match(string_to_sign: str) -> ApiError:
    # The v1 Python SDK splits this message on ":" and compares the tail with its own string
    # to sign, so the colon and the exact server string are part of the contract.
    return ApiError(
        "SignatureDoesNotMatch",
        400,
        f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
    )


def incomplete_signature(reason: str) -> ApiError:
    return ApiError("IncompleteSignature", 400, f"The request signature does not conform to Aliyun standards. {reason}")


def access_key_not_found() -> ApiError:
    return ApiError("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.")


def access_key_inactive() -> ApiError:
    return ApiError("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.")


def timestamp_expired(value: str) -> ApiError:
    return ApiError(
        "InvalidTimeStamp.Expired",
        400,
        f"Specified time stamp or date value is expired. The request time {value} differs from the server "
        "time by more than 15 minutes.",
    )


def timestamp_format(name: str) -> ApiError:
    return ApiError(
        "InvalidTimeStamp.Format",
        400,
        f'Specified time stamp or date value in "{name}" is not well formatted; '
        "expected ISO 8601 UTC such as 2026-01-01T12:00:00Z.",
    )


def nonce_used() -> ApiError:
    return ApiError("SignatureNonceUsed", 400, "Specified signature nonce was used already.")


def unsupported_http_method(method: str) -> ApiError:
    return ApiError("UnsupportedHTTPMethod", 403, f"Specified HTTP method {method} is not supported.")


def action_not_found(action: str) -> ApiError:
    return ApiError(
        "InvalidAction.NotFound", 404, f"Specified api {action} is not found, please check your url and method."
    )


def invalid_version(version: str) -> ApiError:
    return ApiError("InvalidVersion", 400, f"Specified parameter Version {version} is not valid.")


def unsupported_operation(action: str, version: str) -> ApiError:
    return ApiError(
        "UnsupportedOperation",
        400,
        f"The operation {action} (version {version}) is part of the Alibaba Cloud API but ecsram does not emulate it.",
    )


def security_token_malformed() -> ApiError:
    return ApiError("InvalidSecurityToken.Malformed", 400, "The security token you provided is malformed.")


def security_token_expired() -> ApiError:
    return ApiError("InvalidSecurityToken.Expired", 400, "The security token you provided has expired.")


def security_token_mismatch() -> ApiError:
    return ApiError(
        "InvalidSecurityToken.MismatchWithAccessKey",
        400,
        "The security token you provided does not match the access key id.",
    )


def request_too_large(limit: int) -> ApiError:
    return ApiError("RequestEntityTooLarge", 413, f"The request body exceeds the limit of {limit} bytes.")


def request_header_too_large(limit: int) -> ApiError:
    return ApiError("RequestHeaderTooLarge", 431, f"The request line and headers exceed the limit of {limit} bytes.")


def bad_encoding(where: str) -> ApiError:
    return ApiError("InvalidParameter.Encoding", 400, f"The {where} is not valid UTF-8 percent-encoded text.")


def internal_error() -> ApiError:
    return ApiError("InternalError", 500, "The request processing has failed due to some unknown error.")


def service_unavailable(reason: str = "The request has failed due to a temporary failure of the server.") -> ApiError:
    return ApiError("ServiceUnavailable", 503, reason)
