"""Signed card and suggestion uuids: deterministic, valid UUIDs, verifiable without the database, and
impossible to forge or to move between cards, services or keys."""

from __future__ import annotations

import itertools
import uuid
from datetime import date

import pytest

from cds_service.card_ids import CardIds, SignedCard, card_ids_for
from cds_service.guideline.nodes import pathway_spec
from cds_service.services import SERVICES
from cds_service.settings import Settings
from fhir_fixtures import build_request

SERVICE_IDS = [s.id for s in SERVICES]
NODE_IDS = [n.id for n in pathway_spec().nodes]
KEY = b"k" * 32
IDS = CardIds(KEY, services=SERVICE_IDS, nodes=NODE_IDS)
PV, SIGN = "foot-calcification-patient-view", "foot-calcification-order-sign"
HOOK = "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"


def card(ids: CardIds = IDS, service: str = PV, node: str = "initial-radiograph", hook: str = HOOK) -> str:
    return ids.card(service_id=service, node_id=node, hook_instance=hook)


def test_ids_are_valid_uuids_of_version_8() -> None:
    for text in (card(), IDS.suggestion(card_uuid=card(), key="xr")):
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 8 and parsed.variant == uuid.RFC_4122


def test_the_same_call_gets_the_same_ids_and_another_call_other_ids() -> None:
    assert card() == card()
    assert IDS.suggestion(card_uuid=card(), key="xr") == IDS.suggestion(card_uuid=card(), key="xr")
    others = {card(hook=str(uuid.uuid4())), card(node="advanced-imaging"), card(service=SIGN), card()}
    assert len(others) == 4
    assert IDS.suggestion(card_uuid=card(), key="xr") != IDS.suggestion(card_uuid=card(), key="mri")


def test_a_card_says_which_service_and_node_issued_it() -> None:
    for service, node in itertools.product(SERVICE_IDS, NODE_IDS):
        assert IDS.read_card(card(service=service, node=node)) == SignedCard(service_id=service, node_id=node)


def test_a_suggestion_verifies_only_with_its_own_card() -> None:
    mine, other = card(), card(node="advanced-imaging")
    suggestion = IDS.suggestion(card_uuid=mine, key="xr")
    assert IDS.is_suggestion_of(mine, suggestion)
    assert not IDS.is_suggestion_of(other, suggestion)
    assert IDS.read_card(suggestion) is None  # a suggestion id is not a card id
    assert not IDS.is_suggestion_of(mine, mine)  # nor the reverse


def _flip(text: str, bit: int) -> str:
    return str(uuid.UUID(int=uuid.UUID(text).int ^ (1 << bit)))


@pytest.mark.parametrize("bit", [0, 20, 31, 32, 40, 61, 70, 90, 100, 127])
def test_any_changed_bit_is_refused(bit: int) -> None:
    mine = card()
    suggestion = IDS.suggestion(card_uuid=mine, key="xr")
    assert IDS.read_card(_flip(mine, bit)) is None
    assert not IDS.is_suggestion_of(mine, _flip(suggestion, bit))


def test_forged_and_foreign_ids_are_refused() -> None:
    other_key = CardIds(b"o" * 32, services=SERVICE_IDS, nodes=NODE_IDS)
    assert IDS.read_card(card(ids=other_key)) is None
    assert not IDS.is_suggestion_of(card(), other_key.suggestion(card_uuid=card(), key="xr"))
    for text in [str(uuid.uuid4()), str(uuid.uuid5(uuid.NAMESPACE_URL, "x")), card().upper(), "{" + card() + "}",
                 card().replace("-", ""), "", "not a uuid", card() + " "]:
        assert IDS.read_card(text) is None
    random_v8 = [str(uuid.UUID(int=(uuid.uuid4().int & ~(0xF << 76)) | (0x8 << 76))) for _ in range(2000)]
    assert not any(IDS.read_card(text) for text in random_v8)


def test_a_card_of_a_node_or_service_this_version_does_not_have_is_refused() -> None:
    older = CardIds(KEY, services=[*SERVICE_IDS, "retired-service"], nodes=[*NODE_IDS, "retired-node"])
    assert IDS.read_card(card(ids=older, node="retired-node")) is None
    assert IDS.read_card(card(ids=older, service="retired-service")) is None


def test_services_or_nodes_that_share_a_code_are_refused_at_start() -> None:
    names = (f"node-{i}" for i in itertools.count())
    seen: dict[int, str] = {}
    from cds_service.card_ids import _code

    for name in names:  # 8-bit codes: a clash within a few dozen names
        if (clash := seen.setdefault(_code(name, 8), name)) != name:
            break
    with pytest.raises(ValueError, match="share their 8-bit card id code"):
        CardIds(KEY, services=[clash, name], nodes=[])


def test_the_key_comes_from_the_settings() -> None:
    derived = card_ids_for(Settings(auth_mode="disabled", patient_hash_key="a" * 40))
    other_patient_key = card_ids_for(Settings(auth_mode="disabled", patient_hash_key="b" * 40))
    explicit = card_ids_for(Settings(auth_mode="disabled", patient_hash_key="a" * 40, card_id_key="c" * 40))
    assert len({card(ids=derived), card(ids=other_patient_key), card(ids=explicit)}) == 3
    assert card(ids=derived) == card(ids=card_ids_for(Settings(auth_mode="disabled", patient_hash_key="a" * 40)))


def test_cards_the_service_answers_carry_verifiable_ids(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(patient_hash_key="z" * 40)
    body = build_request("fc-ckd-metastatic", "order-sign", date.today())
    cards = client.post(f"/cds-services/{SIGN}", json=body).json()["cards"]
    assert cards
    ids = card_ids_for(Settings(auth_mode="disabled", patient_hash_key="z" * 40))
    for each in cards:
        assert ids.read_card(each["uuid"]) == SignedCard(service_id=SIGN, node_id=each["source"]["topic"]["code"])
        for suggestion in each.get("suggestions", ()):
            assert ids.is_suggestion_of(each["uuid"], suggestion["uuid"])
    again = client.post(f"/cds-services/{SIGN}", json=body).json()["cards"]
    assert [c["uuid"] for c in again] == [c["uuid"] for c in cards]  # a retried call: the same ids
