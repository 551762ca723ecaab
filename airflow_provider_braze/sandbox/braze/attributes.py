"""Custom attributes: what a value in an ``attributes`` object means, and applying it to a profile.

A value is one of (https://www.braze.com/docs/api/objects_filters/user_attributes_object/,
https://www.braze.com/docs/user_guide/data/custom_data/custom_attributes/array_of_objects,
https://www.braze.com/docs/user_guide/data/custom_data/custom_attributes/nested_custom_attribute_support):

* ``null``: remove the attribute;
* a scalar (string, number, boolean): set it;
* ``{"inc": n}``: add ``n`` to an integer (a missing or non-numeric value counts as 0, sandbox choice);
* a list of scalars: set a simple array; ``{"add": [...]}`` / ``{"remove": [...]}`` change it
  (de-duplicated, re-adding moves an element to the end; ``add`` runs before ``remove`` when both
  are given; past ``array_max_length`` the oldest elements are dropped - sandbox choices);
* a list of objects: set an array of objects; ``{"$add"|"$remove"|"$update": [...]}`` change it
  (``$update`` deep-merges and needs ``"_merge_objects": true``);
* ``{"$time": date}``: a date;
* any other object: a nested object, replaced unless ``"_merge_objects": true`` (then deep-merged).

Nested objects and arrays of objects ("nested" values) follow Braze's all-or-nothing rule: one
invalid nested value anywhere in a request drops every nested update of that request (user attributes object page). What
makes a nested value invalid here: a ``null`` inside it, a key that is empty, over 255 characters,
or holds ``.``, ``$`` or a space, a string over 255 characters, a ``$time`` that is not a valid date
between years 1 and 3000, more than 100 KB of JSON, a malformed ``$add``/``$remove``/``$update``,
and ``$update`` without ``_merge_objects: true`` (sandbox choices where Braze's page is silent).
"""

from __future__ import annotations

import json
from typing import Any

from airflow_provider_braze.sandbox.braze.timeparse import accepted, iso, parse_attribute_date

SCALAR = (str, int, float, bool)
MAX_NESTED_BYTES = 100_000
MAX_KEY_CHARS = MAX_STRING_CHARS = 255
SIMPLE_OPS = frozenset({"add", "remove"})
OBJECT_OPS = frozenset({"$add", "$remove", "$update"})


def kind_of(value: Any) -> str:
    """Classify an attribute value: ``remove``, ``scalar``, ``inc``, ``array``, ``array_ops``,
    ``date``, ``nested`` (object, array of objects or ``$`` operations), or ``invalid``."""
    if value is None:
        return "remove"
    if isinstance(value, SCALAR):
        return "scalar"
    if isinstance(value, dict):
        keys = set(value)
        if keys == {"inc"}:
            return "inc"
        if keys and keys <= SIMPLE_OPS:
            return "array_ops"
        if keys == {"$time"}:
            return "date"
        return "nested"
    if isinstance(value, list):
        return "nested" if any(isinstance(v, (dict, list)) for v in value) else "array"
    return "invalid"


def object_problem(key: str, value: Any) -> str | None:
    """A per-object error for a non-nested custom attribute value (Braze rejects the whole object)."""
    if not key or len(key) > MAX_KEY_CHARS:
        return f"custom attribute key must be 1 to {MAX_KEY_CHARS} characters"
    kind = kind_of(value)
    if kind == "invalid":
        return f"custom attribute '{key}' has an unsupported value"
    if kind == "scalar" and isinstance(value, str) and len(value) > MAX_STRING_CHARS:
        return f"custom attribute '{key}' is longer than {MAX_STRING_CHARS} characters"
    if kind == "inc" and (not isinstance(value["inc"], int) or isinstance(value["inc"], bool)):
        return f"custom attribute '{key}' increment must be an integer"
    if kind == "array" and any(v is None for v in value):
        return f"custom attribute '{key}' array holds null"
    if kind == "array_ops":
        for op, items in value.items():
            if not isinstance(items, list) or any(not isinstance(v, SCALAR) for v in items):
                return f"custom attribute '{key}' '{op}' must be an array of strings, numbers or booleans"
    if kind == "date" and parse_attribute_date(value["$time"]) is None:
        return f"custom attribute '{key}' has an invalid '$time'"
    return None


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _plain_problem(value: Any) -> str | None:
    """Check the inside of a nested object or array of objects."""
    if value is None:
        return "null inside a nested attribute"
    if isinstance(value, str):
        return f"string over {MAX_STRING_CHARS} characters" if len(value) > MAX_STRING_CHARS else None
    if isinstance(value, (int, float, bool)):
        return None
    if isinstance(value, list):
        return next(filter(None, (_plain_problem(v) for v in value)), None)
    if isinstance(value, dict):
        if set(value) == {"$time"}:
            return None if parse_attribute_date(value["$time"]) else "invalid '$time'"
        for key, inner in value.items():
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
                return "nested key empty or too long"
            if any(c in key for c in ".$ "):
                return "nested key holds '.', '$' or a space"
            problem = _plain_problem(inner)
            if problem:
                return problem
        return None
    return "unsupported value"


def nested_problem(value: Any, merge_objects: bool) -> str | None:
    """Why a nested value is invalid, or ``None``. Only call for values of kind ``nested``."""
    if _size(value) > MAX_NESTED_BYTES:
        return "nested attribute over 100 KB"
    if isinstance(value, list):
        if not all(isinstance(v, dict) for v in value):
            return "array mixes objects and other values"
        return _plain_problem(value)
    if set(value) & OBJECT_OPS:
        if not set(value) <= OBJECT_OPS:
            return "'$add'/'$remove'/'$update' mixed with other keys"
        if "$update" in value and not merge_objects:
            return "'$update' needs \"_merge_objects\": true"
        for op, items in value.items():
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return f"'{op}' must be an array of objects"
            for item in items:
                problem = _op_item_problem(op, item)
                if problem:
                    return problem
        return None
    return _plain_problem(value)


def _op_item_problem(op: str, item: dict) -> str | None:
    if op == "$add":
        return _plain_problem(item)
    wanted = {"$identifier_key", "$identifier_value"} | ({"$new_object"} if op == "$update" else set())
    if set(item) != wanted or not isinstance(item["$identifier_key"], str):
        return f"'{op}' items need exactly {', '.join(sorted(wanted))}"
    if not isinstance(item["$identifier_value"], SCALAR):
        return "'$identifier_value' must be a string, number or boolean"
    if op == "$update":
        if not isinstance(item["$new_object"], dict):
            return "'$new_object' must be an object"
        return _plain_problem(item["$new_object"])
    return None


def deep_merge(base: dict, update: dict) -> dict:
    """``update`` merged into a copy of ``base``, objects inside objects merged too."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and set(value) != {"$time"}:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _dedupe_append(items: list, new: list) -> list:
    result = list(items)
    for item in new:
        if item in result:
            result.remove(item)
        result.append(item)
    return result


def apply_custom(attrs: dict[str, Any], key: str, value: Any, *, merge_objects: bool, array_max_length: int) -> bool:
    """Write one validated custom attribute into a profile's ``custom_attributes``.

    :return: ``False`` when nothing was written (an array of objects would grow past 100 KB; that
        one attribute is skipped, sandbox choice).
    """
    kind = kind_of(value)
    current = attrs.get(key)
    if kind == "remove":
        attrs.pop(key, None)
    elif kind == "scalar":
        attrs[key] = value
    elif kind == "inc":
        base = current if isinstance(current, (int, float)) and not isinstance(current, bool) else 0
        attrs[key] = base + value["inc"]
    elif kind == "date":
        attrs[key] = iso(accepted(parse_attribute_date(value["$time"])))
    elif kind in ("array", "array_ops"):
        items = _dedupe_append([], value) if kind == "array" else list(current) if isinstance(current, list) else []
        if kind == "array_ops":
            items = _dedupe_append(items, value.get("add", []))
            items = [i for i in items if i not in value.get("remove", [])]
        attrs[key] = items[-array_max_length:] if array_max_length else items
    elif isinstance(value, list):
        attrs[key] = [dict(v) for v in value]
    elif set(value) & OBJECT_OPS:
        items = _apply_object_ops(current if isinstance(current, list) else [], value)
        if _size(items) > MAX_NESTED_BYTES:
            return False
        attrs[key] = items
    else:
        attrs[key] = deep_merge(current, value) if merge_objects and isinstance(current, dict) else dict(value)
    return True


def _matches(obj: Any, selector: dict) -> bool:
    return isinstance(obj, dict) and obj.get(selector["$identifier_key"]) == selector["$identifier_value"]


def _apply_object_ops(items: list, ops: dict) -> list:
    items = [dict(i) if isinstance(i, dict) else i for i in items]
    for selector in ops.get("$remove", []):
        items = [i for i in items if not _matches(i, selector)]
    for change in ops.get("$update", []):
        items = [deep_merge(i, change["$new_object"]) if _matches(i, change) else i for i in items]
    items.extend(dict(i) for i in ops.get("$add", []))
    return items
