"""Normalisation rules for matching records that were typed by hand on each side (pure; no I/O).

Each rule is one small function so that each can be tested on its own and a new one added where it
belongs: a key that survives the rule is what the engine blocks and compares on. Rules fold the
ways two people write the same thing (case, accents, punctuation, "&" or "and", "Inc." or nothing,
"Mfg" or "Manufacturing", "Street" or "St") and keep what tells two records apart.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: Legal-form words dropped from the end of a name ("Acme Supply Co., Inc." → "acme supply").
LEGAL_SUFFIXES = frozenset(
    {
        "inc",
        "incorporated",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "co",
        "company",
        "corp",
        "corporation",
        "plc",
        "pllc",
        "pc",
        "gmbh",
        "sa",
        "ag",
    }
)

#: Common business abbreviations, written out so both spellings compare equal.
NAME_ABBREVIATIONS = {
    "mfg": "manufacturing",
    "mfr": "manufacturing",
    "svc": "services",
    "svcs": "services",
    "service": "services",
    "dist": "distribution",
    "distr": "distribution",
    "distributors": "distribution",
    "distributor": "distribution",
    "supp": "supply",
    "supplies": "supply",
    "intl": "international",
    "natl": "national",
    "bros": "brothers",
    "mech": "mechanical",
    "elec": "electric",
    "electrical": "electric",
    "eng": "engineering",
    "engr": "engineering",
    "assoc": "associates",
    "hvacr": "hvac",
    "ac": "air conditioning",
    "mtn": "mountain",
    "mt": "mount",
    "st": "saint",
    "ctr": "center",
    "centre": "center",
}

#: Address words and their usual short forms (USPS style), so "123 Main Street" = "123 Main St.".
ADDRESS_ABBREVIATIONS = {
    "street": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "parkway": "pkwy",
    "highway": "hwy",
    "suite": "ste",
    "building": "bldg",
    "circle": "cir",
    "terrace": "ter",
    "trail": "trl",
    "freeway": "fwy",
    "expressway": "expy",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "northeast": "ne",
    "northwest": "nw",
    "southeast": "se",
    "southwest": "sw",
    "first": "1st",
    "second": "2nd",
    "third": "3rd",
}

#: Mail domains anyone can have: sharing one says nothing about being the same business.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "comcast.net",
        "att.net",
        "verizon.net",
        "proton.me",
        "protonmail.com",
    }
)

_NON_WORD = re.compile(r"[^0-9a-z]+")
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]+")
_DIGITS = re.compile(r"\D+")


def fold(text: str | None) -> str:
    """Lower case without accents ("Café Ñandú" → "cafe nandu"); None → ""."""
    if not text:
        return ""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str | None) -> list[str]:
    """Folded words: punctuation and apostrophes split or vanish ("O'Neil & Sons, Inc." →
    ["oneil", "and", "sons", "inc"]). "&" and "+" between words become "and"."""
    folded = fold(text).replace("'", "").replace("’", "")
    folded = folded.replace("&", " and ").replace("+", " and ")
    return [w for w in _NON_WORD.split(folded) if w]


def join_initials(tokens: list[str]) -> list[str]:
    """Runs of one-letter words become one word ("a b c supply l l c" → "abc supply llc"), so
    "L.L.C." and "LLC" or "A.B.C." and "ABC" compare equal."""
    out: list[str] = []
    run = ""
    for token in tokens:
        if len(token) == 1 and token.isalpha():
            run += token
            continue
        if run:
            out.append(run)
            run = ""
        out.append(token)
    if run:
        out.append(run)
    return out


def strip_legal_suffixes(tokens: list[str]) -> list[str]:
    """Drop legal forms from the end ("acme supply co inc" → "acme supply"), keeping at least one
    word, so a business called "Company" stays itself."""
    out = list(tokens)
    while len(out) > 1 and out[-1] in LEGAL_SUFFIXES:
        out.pop()
    return out


def expand_abbreviations(tokens: Iterable[str], table: dict[str, str]) -> list[str]:
    """Replace each word found in ``table`` by its long (or canonical) form."""
    out: list[str] = []
    for token in tokens:
        out.extend(table.get(token, token).split())
    return out


def name_tokens(name: str | None) -> list[str]:
    """The words of a business or person name after every name rule: folded, "&" as "and",
    abbreviations written out, legal suffixes dropped. A leading "the" is dropped too."""
    tokens = join_initials(words(name))
    tokens = strip_legal_suffixes(tokens)
    tokens = expand_abbreviations(tokens, NAME_ABBREVIATIONS)
    if len(tokens) > 1 and tokens[0] == "the":
        tokens = tokens[1:]
    return tokens


def name_key(name: str | None) -> str:
    """One string to compare names on ("The Acme Mfg. Co., Inc." → "acme manufacturing")."""
    return " ".join(name_tokens(name))


def address_key(line1: str | None) -> str:
    """Address line 1 folded, with USPS abbreviations ("123 North Main Street, Suite 4" →
    "123 n main st ste 4"); "#4" and "Ste 4" both keep the 4."""
    tokens = [t for t in words(line1) if t not in {"no", "number"}]
    return " ".join(expand_abbreviations(tokens, ADDRESS_ABBREVIATIONS))


def postal_key(postal: str | None) -> str:
    """A postal code to compare: a US ZIP+4 keeps its five digits ("75201-1234" → "75201");
    other codes keep letters and digits, upper case ("M5V 2T6" → "M5V2T6")."""
    if not postal:
        return ""
    compact = _NON_ALNUM.sub("", fold(postal)).upper()
    if compact.isdigit() and len(compact) in (5, 9):
        return compact[:5]
    return compact


def phone_key(phone: str | None) -> str:
    """The digits of a phone number, without a leading US country code 1 and without an
    extension ("+1 (214) 555-0100 x12" → "2145550100"); fewer than 7 digits → "" (not a phone)."""
    if not phone:
        return ""
    main = re.split(r"(?i)\s*(?:x|ext\.?|extension)\s*\d+\s*$", phone.strip())[0]
    digits = _DIGITS.sub("", main)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits if len(digits) >= 7 else ""


def email_domain(email: str | None) -> str:
    """The domain of an e-mail address or web site, lower case, without ``www.``; a free-mail
    domain ("gmail.com") gives "" since anyone can have one."""
    if not email:
        return ""
    text = fold(email).strip()
    text = text.split("@", 1)[1] if "@" in text else re.sub(r"^[a-z]+://", "", text)
    domain = text.split("/", 1)[0].split(":", 1)[0].strip(". >")
    domain = domain.removeprefix("www.")
    if "." not in domain or domain in FREE_MAIL_DOMAINS:
        return ""
    return domain


def exact_key(value: str | None) -> str:
    """An identifier compared exactly: letters and digits only, upper case ("12-3456789" →
    "123456789", "s-5001" → "S5001"); "" when nothing is left."""
    if not value:
        return ""
    return _NON_ALNUM.sub("", fold(value)).upper()


def identifiers_in_text(text: str | None) -> set[str]:
    """Identifier-like words in free text such as a memo: words with at least one digit and three
    or more characters, as :func:`exact_key` ("Fusion supplier 5001, EIN 12-3456789" →
    {"5001", "123456789"})."""
    if not text:
        return set()
    found: set[str] = set()
    for word in re.split(r"[\s,;:()\[\]{}|/]+", text):
        key = exact_key(word.strip("#.-"))
        if len(key) >= 3 and any(c.isdigit() for c in key):
            found.add(key)
    return found


def sku_key(
    code: str | None,
    *,
    ignore_case: bool = True,
    ignore_characters: str = " -_./",
    prefix: str = "",
) -> str:
    """A SKU code or item number after the configured normalisation: ``prefix`` removed from the
    start, ``ignore_characters`` removed, case folded unless ``ignore_case`` is false
    ("hv-cap-4540" and "HVCAP4540" are equal by default)."""
    if not code:
        return ""
    text = code.strip()
    if prefix and (
        text.upper().startswith(prefix.upper()) if ignore_case else text.startswith(prefix)
    ):
        text = text[len(prefix) :]
    text = "".join(c for c in text if c not in ignore_characters)
    return text.upper() if ignore_case else text
