"""JSON text from outside (webhook bodies, import lines) to values both databases can store.

Every value is checked once, here, where the JSON is read; each refusal is an InvalidPayload
naming the field (`deploymentId`, `metadata.version`, `events[1].attributes.env`), which each
format renders in its own error shape. Refused:

- a lone surrogate (`"\\ud800"`): not Unicode text; neither SQLite nor PostgreSQL (nor a UTF-8
  response) can encode it;
- NUL (`"\\u0000"`): PostgreSQL text and jsonb cannot hold it;
- a number beyond a double (`1e400`, which Python reads as inf) and NaN/Infinity: jsonb
  refuses them, and JSON has no such numbers;
- nesting deeper than MAX_DEPTH: orjson reads up to 1,024 levels, but storing a JSON field
  encodes it recursively (json.dumps), which fails near Python's recursion limit (a 500).
"""

import json
import math
import re
from typing import Any

import orjson

from periscope.errors import InvalidPayload

# Every ASCII digit to "0", any other byte to " ": a run of 20 digits is then a substring.
# ~0.3 µs a line; the regex \d{20} took ~7, more than orjson itself.
_DIGITS = bytes(48 if 48 <= byte <= 57 else 32 for byte in range(256))
_TWENTY_DIGITS = b"0" * 20
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_KEY_SHOWN = 64
_CONSTANTS = ("NaN", "Infinity", "-Infinity")
MAX_DEPTH = 256


class _NotFinite(str):
    """A number token json read as inf or nan, or NaN/Infinity: kept as its text until the
    walk below finds where it is."""


def has_long_number(data: bytes) -> bool:
    """Whether 20 ASCII digits follow each other (JSON numbers are ASCII)."""
    return _TWENTY_DIGITS in data.translate(_DIGITS)


def _float(text: str) -> float | _NotFinite:
    value = float(text)
    return value if math.isfinite(value) else _NotFinite(text)


def _escaped(text: str) -> str:
    return _UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _child(path: str, key: str) -> str:
    shown = _escaped(key if len(key) <= _KEY_SHOWN else key[:_KEY_SHOWN] + "…")
    return f"{path}.{shown}" if path else shown


def _string_problem(text: str) -> str | None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "contains a NUL character (\\u0000), which cannot be stored"
    return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid Unicode"


def check_storable(value: Any, *, what: str = "body") -> None:
    """Raise InvalidPayload for the first string (key or value) or number the databases
    cannot store, naming its path. Iterative: nesting depth is JSON's, not the stack's."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, _NotFinite):
            field = path or what
            if item in _CONSTANTS:
                raise InvalidPayload(f"{field} is {item}, which is not a JSON number", field=field)
            raise InvalidPayload(
                f"{field} is {item[:40]}, a number beyond the range of a double (±1.8e308)",
                field=field,
            )
        if isinstance(item, str):
            problem = _string_problem(item)
            if problem:
                field = path or what
                raise InvalidPayload(f"{field} {problem}", field=field)
        elif isinstance(item, dict):
            for key, child in item.items():
                child_path = _child(path, key)
                problem = _string_problem(key)
                if problem:
                    raise InvalidPayload(f"{child_path} (a key) {problem}", field=child_path)
                pending.append((child, child_path))
        elif isinstance(item, list):
            pending.extend((child, f"{path or what}[{i}]") for i, child in enumerate(item))


def check_depth(value: Any, *, what: str = "body") -> None:
    """Raise InvalidPayload when arrays and objects nest deeper than MAX_DEPTH."""
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        item, depth, path = pending.pop()
        if isinstance(item, dict | list):
            if depth == MAX_DEPTH:
                field = path if len(path) <= 100 else f"{path[:60]}…{path[-30:]}"
                raise InvalidPayload(
                    f"{field} nests arrays and objects deeper than {MAX_DEPTH} levels",
                    field=field,
                )
            children = (
                ((child, _child(path, key)) for key, child in item.items())
                if isinstance(item, dict)
                else ((child, f"{path or what}[{i}]") for i, child in enumerate(item))
            )
            pending.extend((child, depth + 1, child_path) for child, child_path in children)


def _nesting_checked(data: Any, text: str, what: str) -> Any:
    # Deeper than MAX_DEPTH needs more than MAX_DEPTH brackets: counting them (in C) spares
    # the walk for every ordinary body and import line.
    if text.count("[") + text.count("{") > MAX_DEPTH:
        check_depth(data, what=what)
    return data


def parse_json(text: str, *, what: str = "body") -> Any:
    """The JSON value of `text`, every string and number of it storable; else InvalidPayload
    (field `what` when the text is not JSON, else the offending value's path).

    orjson first (several times faster): it refuses lone surrogates and numbers beyond a
    double itself, so what it reads needs only the NUL check, and only when the text has
    the escape. It reads integers beyond 64 bits as floats, so text with 20 digits in a row
    goes to json, like anything orjson refuses, and json's result is checked in full.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if not has_long_number(encoded):
        try:
            data = orjson.loads(encoded)
        except orjson.JSONDecodeError:
            pass
        else:
            # A NUL can only arrive escaped: a raw control character is not valid JSON.
            if "\\u0000" in text:
                check_storable(data, what=what)
            return _nesting_checked(data, text, what)
    try:
        data = json.loads(text, parse_float=_float, parse_constant=_NotFinite)
    except (ValueError, RecursionError):
        raise InvalidPayload(f"{what} is not valid JSON", field="body") from None
    check_storable(data, what=what)
    return _nesting_checked(data, text, what)
