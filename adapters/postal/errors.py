"""Errors of the VNPost adapter; the gateway maps them at its boundary.

PostalError
├── PostalUnavailable     VNPost cannot answer now: timeout, connection refused, HTTP 5xx (retry later)
├── PostalRejected        VNPost answered and refused the order (Status other than "100"), with its reason
├── MalformedAnswer       not the JSON the protocol promises
└── BadCallback           a status callback we must not believe
    ├── UnsignedCallback  no signature or timestamp
    ├── BadSignature      the HMAC does not match the body
    └── StaleCallback     its timestamp is outside the freshness window
"""


class PostalError(Exception):
    code = "postal.error"


class PostalUnavailable(PostalError):
    code = "postal.unavailable"


class PostalRejected(PostalError):
    code = "postal.rejected"


class MalformedAnswer(PostalError):
    code = "postal.malformed"


class BadCallback(PostalError):
    code = "postal.callback_invalid"


class UnsignedCallback(BadCallback):
    code = "postal.callback_unsigned"


class BadSignature(BadCallback):
    code = "postal.callback_signature"


class StaleCallback(BadCallback):
    code = "postal.callback_stale"
