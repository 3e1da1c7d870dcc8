"""Where document bytes live: a content-addressed store (local directory by default) and media sniffing."""

from gateway.content.base import ContentStore, ContentTooLarge, Incoming
from gateway.content.local import LocalContentStore
from gateway.content.sniff import ALLOWED, media_type_of

__all__ = ["ALLOWED", "ContentStore", "ContentTooLarge", "Incoming", "LocalContentStore", "media_type_of"]
