"""Card and suggestion uuids the service recognises without its database.

Feedback must be accepted only for cards this service issued, and it used to take the store's record
of each issued card to know that: a card issued while the database was down (or whose record was still
waiting to be written) could never get feedback. Here the uuid itself proves it. Each is a valid UUID
(version 8, RFC 9562's layout for custom ids) whose 122 free bits hold:

    card:        scheme (4) | kind 0 (1) | service (8) | node (16) | nonce (61) | tag (32)
    suggestion:  scheme (4) | kind 1 (1) | nonce (85)                         | tag (32)

- service and node are the first bits of the SHA-256 of their ids (no two may share them: checked when
  the scheme is built), so the store learns from the uuid which service and pathway node issued the card;
- a card's nonce is a keyed hash of (service, node, hookInstance): the same call retried gets the same
  uuids, two calls get different ones;
- a suggestion's nonce is a keyed hash of (its card's uuid, the suggestion's key), and its tag covers
  the card's uuid: a suggestion verifies only together with its own card;
- the tag is a keyed BLAKE2b MAC over everything before it. Without the key no one can make an id that
  verifies (a forged one has a 1 in 2^32 chance per try, and every try is an authenticated request).

The key is `CDS_CARD_ID_KEY`, or one derived from `CDS_PATIENT_HASH_KEY` when that is unset. Changing it
makes ids issued before unverifiable by signature (those the store recorded are still recognised there).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cds_service.settings import Settings

__all__ = ["CardIds", "SignedCard", "card_ids_for", "default_card_ids"]

SCHEME = 1
_CARD, _SUGGESTION = 0, 1
_SERVICE_BITS, _NODE_BITS, _TAG_BITS = 8, 16, 32
_CARD_NONCE_BITS = 122 - 4 - 1 - _SERVICE_BITS - _NODE_BITS - _TAG_BITS  # 61
_SUGGESTION_NONCE_BITS = 122 - 4 - 1 - _TAG_BITS  # 85


@dataclass(frozen=True, slots=True)
class SignedCard:
    """What a verified card uuid says about itself."""

    service_id: str
    node_id: str


def _code(name: str, bits: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest(), "big") >> (256 - bits)


def _to_uuid(payload: int) -> str:
    """122 bits into a UUID: 48 bits, version 8, 12 bits, variant 10, 62 bits."""
    high48, mid12, low62 = payload >> 74, (payload >> 62) & 0xFFF, payload & ((1 << 62) - 1)
    value = (high48 << 80) | (0x8 << 76) | (mid12 << 64) | (0b10 << 62) | low62
    return str(uuid.UUID(int=value))


def _from_uuid(text: str) -> int | None:
    """The 122 bits of one of our uuids written exactly as we write them, else None."""
    if len(text) != 36:
        return None
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        return None
    if str(parsed) != text or parsed.version != 8 or parsed.variant != uuid.RFC_4122:
        return None
    value = parsed.int
    return ((value >> 80) << 74) | (((value >> 64) & 0xFFF) << 62) | (value & ((1 << 62) - 1))


class CardIds:
    """Makes and verifies card and suggestion uuids for a set of services and pathway nodes."""

    def __init__(self, key: bytes, *, services: Iterable[str], nodes: Iterable[str]) -> None:
        if not 16 <= len(key) <= 64:
            raise ValueError("the card id key must be 16 to 64 bytes")
        self._key = key
        self._services = self._codes(services, _SERVICE_BITS, "service")
        self._nodes = self._codes(nodes, _NODE_BITS, "pathway node")

    @staticmethod
    def _codes(names: Iterable[str], bits: int, what: str) -> dict[int, str]:
        codes: dict[int, str] = {}
        for name in names:
            code = _code(name, bits)
            if codes.get(code, name) != name:
                raise ValueError(f"{what} ids {codes[code]!r} and {name!r} share their {bits}-bit card id code; "
                                 "rename one (card ids must tell them apart)")
            codes[code] = name
        return codes

    def _mac(self, person: bytes, data: bytes, bits: int) -> int:
        digest = hashlib.blake2b(data, key=self._key, person=person, digest_size=16).digest()
        return int.from_bytes(digest, "big") >> (128 - bits)

    def _card_tag(self, head: int) -> int:
        return self._mac(b"cds-card-tag", head.to_bytes(12, "big"), _TAG_BITS)

    def _suggestion_tag(self, card_uuid: str, head: int) -> int:
        return self._mac(b"cds-sugg-tag", card_uuid.encode("ascii") + head.to_bytes(12, "big"), _TAG_BITS)

    # Making ---------------------------------------------------------------------------------------------

    def card(self, *, service_id: str, node_id: str, hook_instance: str) -> str:
        nonce = self._mac(b"cds-card-nonce", "\x1f".join((service_id, node_id, hook_instance)).encode("utf-8"),
                          _CARD_NONCE_BITS)
        head = (((((SCHEME << 1) | _CARD) << _SERVICE_BITS | _code(service_id, _SERVICE_BITS)) << _NODE_BITS
                 | _code(node_id, _NODE_BITS)) << _CARD_NONCE_BITS) | nonce
        return _to_uuid((head << _TAG_BITS) | self._card_tag(head))

    def suggestion(self, *, card_uuid: str, key: str) -> str:
        nonce = self._mac(b"cds-sugg-nonce", f"{card_uuid}\x1f{key}".encode("utf-8"), _SUGGESTION_NONCE_BITS)
        head = (((SCHEME << 1) | _SUGGESTION) << _SUGGESTION_NONCE_BITS) | nonce
        return _to_uuid((head << _TAG_BITS) | self._suggestion_tag(card_uuid, head))

    # Verifying ------------------------------------------------------------------------------------------

    def read_card(self, card_uuid: str) -> SignedCard | None:
        """The service and node a card uuid was issued for, if it is one of ours made with this key."""
        payload = _from_uuid(card_uuid)
        if payload is None:
            return None
        head, tag = payload >> _TAG_BITS, payload & ((1 << _TAG_BITS) - 1)
        if head >> (122 - _TAG_BITS - 5) != (SCHEME << 1) | _CARD:
            return None
        if not hmac.compare_digest(tag.to_bytes(4, "big"), self._card_tag(head).to_bytes(4, "big")):
            return None
        node = self._nodes.get((head >> _CARD_NONCE_BITS) & ((1 << _NODE_BITS) - 1))
        service = self._services.get((head >> (_CARD_NONCE_BITS + _NODE_BITS)) & ((1 << _SERVICE_BITS) - 1))
        if node is None or service is None:  # a node or service this version no longer has
            return None
        return SignedCard(service_id=service, node_id=node)

    def is_suggestion_of(self, card_uuid: str, suggestion_uuid: str) -> bool:
        """Whether `suggestion_uuid` was made with this key for the card `card_uuid`."""
        payload = _from_uuid(suggestion_uuid)
        if payload is None:
            return False
        head, tag = payload >> _TAG_BITS, payload & ((1 << _TAG_BITS) - 1)
        if head >> _SUGGESTION_NONCE_BITS != (SCHEME << 1) | _SUGGESTION:
            return False
        return hmac.compare_digest(tag.to_bytes(4, "big"), self._suggestion_tag(card_uuid, head).to_bytes(4, "big"))


def _key(settings: Settings) -> bytes:
    if settings.card_id_key is not None:
        return hashlib.sha256(settings.card_id_key.get_secret_value().encode("utf-8")).digest()
    # Derived, so a deployment that set only CDS_PATIENT_HASH_KEY has a secret card key too, and a
    # different one: knowing card ids tells nothing about the patient hashes.
    secret = settings.patient_hash_key.get_secret_value().encode("utf-8")
    return hmac.new(secret, b"cds-service card ids", hashlib.sha256).digest()


def card_ids_for(settings: Settings) -> CardIds:
    """The scheme for this deployment's key, knowing every service and pathway node."""
    from cds_service.guideline.nodes import pathway_spec
    from cds_service.services import SERVICES

    return CardIds(_key(settings), services=[s.id for s in SERVICES], nodes=[n.id for n in pathway_spec().nodes])


@lru_cache(maxsize=1)
def default_card_ids() -> CardIds:
    """The scheme for the settings read from the environment (used where no app passes its own)."""
    from cds_service.settings import get_settings

    return card_ids_for(get_settings())
