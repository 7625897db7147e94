"""One test per normalisation rule (issue 11): what two people type differently compares equal,
and what tells two records apart survives."""

from __future__ import annotations

import pytest

from ml_connector.matching import normalise as n


def test_fold_lowers_case_and_removes_accents() -> None:
    assert n.fold("Café Ñandú MÜLLER") == "cafe nandu muller"
    assert n.fold(None) == ""


def test_words_split_on_punctuation_and_drop_apostrophes() -> None:
    assert n.words("O'Neil-Smith, Heating/Air.") == ["oneil", "smith", "heating", "air"]


def test_ampersand_and_plus_read_as_and() -> None:
    assert n.name_key("Smith & Sons") == n.name_key("Smith and Sons") == "smith and sons"
    assert n.name_key("Heat+Air") == "heat and air"


def test_initials_join_so_dotted_and_plain_forms_agree() -> None:
    assert n.join_initials(["a", "b", "c", "supply", "l", "l", "c"]) == ["abc", "supply", "llc"]
    assert n.name_key("A.B.C. Supply") == n.name_key("ABC Supply")


@pytest.mark.parametrize(
    "raw",
    [
        "Acme Supply Inc",
        "Acme Supply, Inc.",
        "Acme Supply LLC",
        "Acme Supply L.L.C.",
        "Acme Supply Ltd",
        "Acme Supply Co",
        "Acme Supply Company",
        "Acme Supply Corp.",
        "Acme Supply Co., Inc.",
    ],
)
def test_legal_suffixes_are_dropped_from_the_end(raw: str) -> None:
    assert n.name_key(raw) == "acme supply"


def test_a_legal_word_alone_or_inside_a_name_stays() -> None:
    assert n.strip_legal_suffixes(["company"]) == ["company"]
    assert n.name_key("Co Op Supply") == "co op supply"


def test_common_abbreviations_are_written_out() -> None:
    assert n.name_key("Delta Mfg") == n.name_key("Delta Manufacturing") == "delta manufacturing"
    assert n.name_key("Apex HVAC Svcs") == n.name_key("Apex HVAC Services")
    assert n.name_key("Gulf Intl Dist") == "gulf international distribution"
    assert n.name_key("Coastal Air Supplies") == n.name_key("Coastal Air Supply")


def test_a_leading_the_is_dropped() -> None:
    assert n.name_key("The Comfort Group") == n.name_key("Comfort Group") == "comfort group"


def test_address_words_take_their_usps_short_forms() -> None:
    assert n.address_key("123 North Main Street, Suite 4") == "123 n main st ste 4"
    assert n.address_key("123 N. Main St. Ste 4") == "123 n main st ste 4"
    assert n.address_key("9 Commerce Avenue #12") == n.address_key("9 Commerce Ave No. 12")


@pytest.mark.parametrize(
    ("raw", "key"),
    [("75201", "75201"), ("75201-1234", "75201"), (" 752011234 ", "75201"), ("m5v 2t6", "M5V2T6")],
)
def test_postal_codes_compare_on_their_significant_part(raw: str, key: str) -> None:
    assert n.postal_key(raw) == key


def test_missing_postal_code_is_empty() -> None:
    assert n.postal_key(None) == n.postal_key("") == ""


@pytest.mark.parametrize(
    "raw",
    ["214-555-0100", "(214) 555 0100", "+1 214.555.0100", "1-214-555-0100", "214-555-0100 x12"],
)
def test_phone_numbers_compare_on_their_digits(raw: str) -> None:
    assert n.phone_key(raw) == "2145550100"


def test_too_short_a_phone_is_no_phone() -> None:
    assert n.phone_key("555") == ""


def test_email_domain_from_addresses_and_web_sites() -> None:
    assert n.email_domain("Orders@Acme-Supply.example") == "acme-supply.example"
    assert n.email_domain("https://www.acme-supply.example/contact") == "acme-supply.example"


def test_free_mail_domains_are_no_evidence() -> None:
    assert n.email_domain("joe.smith@gmail.com") == ""
    assert n.email_domain("not an address") == ""


def test_exact_keys_keep_letters_and_digits_only() -> None:
    assert n.exact_key("12-3456789") == "123456789"
    assert n.exact_key(" s-5001 ") == "S5001"


def test_identifiers_are_found_in_free_text() -> None:
    found = n.identifiers_in_text("Fusion supplier #5001 (EIN 12-3456789); call Bob")
    assert found == {"5001", "123456789"}
    assert n.identifiers_in_text("no numbers here") == set()


def test_sku_normalisation_follows_the_configuration() -> None:
    assert n.sku_key("hv-cap-4540") == n.sku_key("HVCAP4540") == "HVCAP4540"
    assert n.sku_key("ST-HV-CAP", prefix="ST-") == "HVCAP"
    assert n.sku_key("hv-cap", ignore_case=False) == "hvcap"
    assert n.sku_key("HV CAP", ignore_characters="") == "HV CAP"
