"""Errors of the population-database adapter; the gateway maps them at its boundary.

    IdentityError
    ├── IdentityUnavailable      the service cannot answer now: timeout, connection refused, HTTP 5xx
    ├── IdentityFault            the service answered with a SOAP fault (e.g. it refused our request)
    └── UntrustedAnswer          an answer we must not believe
        ├── MalformedAnswer      not the XML or fields the WSDL promises
        ├── UnsignedAnswer       no XML signature
        ├── BadSignature         signature invalid, tampered content, or a certificate we do not pin
        ├── StaleAnswer          its timestamp is outside the freshness window
        └── ReplayedAnswer       it echoes another request id than the one we sent

For intake all of them mean "not verified now": the dossier is accepted with identity pending and
retried later. UntrustedAnswer is also a security event and is logged as such.
"""


class IdentityError(Exception):
    code = "identity.error"


class IdentityUnavailable(IdentityError):
    code = "identity.unavailable"


class IdentityFault(IdentityError):
    code = "identity.fault"


class UntrustedAnswer(IdentityError):
    code = "identity.untrusted"


class MalformedAnswer(UntrustedAnswer):
    code = "identity.malformed"


class UnsignedAnswer(UntrustedAnswer):
    code = "identity.unsigned"


class BadSignature(UntrustedAnswer):
    code = "identity.bad_signature"


class StaleAnswer(UntrustedAnswer):
    code = "identity.stale"


class ReplayedAnswer(UntrustedAnswer):
    code = "identity.replayed"
