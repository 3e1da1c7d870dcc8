"""A document's media type from its first bytes, never from its name or the client's word."""

SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
ALLOWED = tuple(media_type for _, media_type in SIGNATURES)


def media_type_of(head: bytes) -> str | None:
    """The allowed media type these leading bytes announce, or None."""
    return next((media_type for signature, media_type in SIGNATURES if head.startswith(signature)), None)
