"""Errors of the DVCQG adapter; the gateway maps them at its boundary.

PortalError
├── PortalUnavailable     the portal cannot answer now: connection refused or reset, timeout, HTTP 5xx/408/429,
│                         a redirect, an answer larger than the limit. Retry later; nothing was decided.
├── PortalRejected        the portal answered with error_code != 0: carries `error_code` and the portal's `message`
│   ├── AlreadyExists     a create (isUpdating false) of a MaHoSo the portal already holds: send it again as an update
│   └── SessionRejected   the login itself was refused (wrong username or password): an operator must fix the
│                         settings; retrying with the same credentials cannot help
└── MalformedAnswer       not JSON, or JSON that is not the shape the protocol promises

An expired session is deliberately not in the tree: the client logs in again once and repeats the call, so a
caller never sees it. Only a freshly issued session refused in turn surfaces, as PortalUnavailable (the portal is
misbehaving, not our data).
"""


class PortalError(Exception):
    code = "dvcqg.error"


class PortalUnavailable(PortalError):
    code = "dvcqg.unavailable"


class PortalRejected(PortalError):
    code = "dvcqg.rejected"

    def __init__(self, error_code: int, message: str) -> None:
        super().__init__(f"{error_code}: {message or 'no reason given'}")
        self.error_code = error_code
        self.message = message


class AlreadyExists(PortalRejected):
    code = "dvcqg.already_exists"


class SessionRejected(PortalRejected):
    code = "dvcqg.session_rejected"


class MalformedAnswer(PortalError):
    code = "dvcqg.malformed"
