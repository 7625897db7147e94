"""The engine: blocking finds drifted records without comparing all pairs, identifiers win, and a
second candidate within the margin makes a proposal ambiguous."""

from __future__ import annotations

from ml_connector.matching import normalise as n
from ml_connector.matching.engine import Index, Matcher, Settings, similarity
from ml_connector.matching.model import Entity, Keys, Kind


def keys(
    ident: str,
    name: str,
    street: str = "",
    postal: str = "",
    phone: str = "",
    email: str = "",
    exact: tuple[str, ...] = (),
) -> Keys:
    return Keys(
        id=ident,
        label=name,
        name=n.name_key(name),
        address=n.address_key(street),
        postal=n.postal_key(postal),
        phone=n.phone_key(phone),
        domain=n.email_domain(email),
        exact=tuple(n.exact_key(e) for e in exact),
    )


def matcher(*targets: Keys, **kw: float) -> Matcher:
    index = Index(max_block=4)
    for t in targets:
        index.add(t)
    return Matcher(Entity.VENDORS, index, Settings(**kw))  # type: ignore[arg-type]


ACME = keys("1", "Acme Supply Co", "12 Oak Street", "75201", "214-555-0100", "orders@acme.example")


def test_drifted_record_scores_high_and_says_what_agreed() -> None:
    drifted = keys("v9", "ACME SUPPLY, INC.", "12 Oak St.", "75201-0001", "(214) 555 0100", "")
    score, agreed, differed, missing = similarity(ACME, drifted)
    assert score > 0.95
    assert set(agreed) == {"name", "address", "postal", "phone"}
    assert differed == ()
    assert missing == ("domain",)


def test_a_moved_address_differs_but_the_phone_and_domain_carry_the_match() -> None:
    moved = keys("v9", "Acme Supply", "800 Elm Ave", "75209", "214-555-0100", "ap@acme.example")
    score, _, differed, _ = similarity(ACME, moved)
    assert set(differed) == {"address", "postal"}
    assert score >= Settings().threshold


def test_same_name_elsewhere_stays_below_the_threshold() -> None:
    other = keys("v9", "Acme Supply", "4 Pine Rd", "77002")
    assert similarity(ACME, other)[0] < Settings().threshold


def test_blocking_finds_a_typo_through_another_key() -> None:
    typo = keys("v9", "Acne Supply Co", "12 Oak Street", "75201", "214-555-0100")
    m = matcher(typo, keys("v8", "Zeta Air", "1 Main St", "85004"))
    proposal = m.match(ACME)
    assert proposal is not None
    assert proposal.best.target_id == "v9"
    assert not proposal.ambiguous
    assert m.compared == 1  # Zeta shares no block: never scored


def test_nothing_shared_means_no_comparison_and_no_proposal() -> None:
    m = matcher(keys("v8", "Zeta Air", "1 Main St", "85004"))
    assert m.match(ACME) is None
    assert m.compared == 0


def test_oversized_blocks_are_skipped() -> None:
    crowd = [keys(f"v{i}", f"Supply Depot {i}", postal="75201") for i in range(10)]
    m = matcher(*crowd)  # "supply" and the postal code are each in 10 rows > max_block 4
    assert m.match(keys("s", "Nothing Supply", postal="75201")) is None
    assert m.compared == 0


def test_an_identifier_makes_an_exact_proposal() -> None:
    vendor = keys("v9", "ACME Dallas", "99 Far Rd", "75001", exact=("5001",))
    m = matcher(vendor, keys("v8", "Acme Supply", "1 Main", "30303"))
    supplier = keys("1", "Acme Supply Co", "12 Oak Street", "75201", exact=("5001",))
    proposal = m.match(supplier)
    assert proposal is not None
    assert proposal.best.target_id == "v9"
    assert proposal.best.kind is Kind.EXACT
    assert proposal.best.score == 1.0
    assert "identifier" in proposal.best.agreed
    assert not proposal.ambiguous


def test_an_identifier_on_two_records_is_ambiguous() -> None:
    a = keys("v1", "Acme Supply", "12 Oak Street", "75201", exact=("5001",))
    b = keys("v2", "Acme Supply Houston", "7 Bay Rd", "77002", exact=("5001",))
    proposal = matcher(a, b).match(ACME.__class__(**{**_as_dict(ACME), "exact": ("5001",)}))
    assert proposal is not None
    assert proposal.best.target_id == "v1"  # the better similarity decides the order
    assert proposal.ambiguous
    assert "2 records" in proposal.why_ambiguous


def test_a_second_candidate_within_the_margin_is_ambiguous() -> None:
    a = keys("v1", "Acme Supply", "12 Oak Street", "75201", "214-555-0100")
    b = keys("v2", "Acme Supply", "12 Oak Street", "75201", "214-555-0100")
    proposal = matcher(a, b).match(ACME)
    assert proposal is not None
    assert proposal.ambiguous
    assert len(proposal.candidates) == 2


def test_outside_the_margin_is_not_ambiguous_and_the_margin_is_configurable() -> None:
    a = keys("v1", "Acme Supply", "12 Oak Street", "75201", "214-555-0100")
    b = keys("v2", "Acme Supply", "12 Oak Street", "75201", "972-555-0199")
    narrow = matcher(a, b, margin=0.05).match(ACME)
    wide = matcher(a, b, margin=0.5).match(ACME)
    assert narrow is not None
    assert wide is not None
    assert narrow.best.target_id == wide.best.target_id == "v1"
    assert not narrow.ambiguous
    assert wide.ambiguous


def _as_dict(k: Keys) -> dict[str, object]:
    return {f: getattr(k, f) for f in k.__slots__}
