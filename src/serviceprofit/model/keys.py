"""The dotted-key vocabulary, in one place: ``a.b.c=value`` from YAML to report.

A dotted key names a place in nested scenario data (``strategy.process.empowerment``,
``segments.0.share``): ``--set`` and scenario overrides, an experiment's factors, an
event's ``set``, the demo's levers and the report's table of differing settings all
speak it. Here it is parsed (:func:`parse`), bounded (:func:`check_key`), applied to
nested data (:func:`apply`), read (:func:`get`) and listed (:func:`flatten`); a key the
schema does not know is answered with the nearest known one (:func:`nearest`). The
schema itself (which keys exist) is :mod:`serviceprofit.model.scenario`'s; a key is checked
against it by validating the data it was applied to, so a misspelt key is found however
deep it is.

:class:`ScenarioError` lives here because every bad key or value is reported as one:
where (file or flag), which key, and what is allowed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from serviceprofit.model.safe_yaml import YAMLInputError, clip, load_yaml

__all__ = [
    "MAX_KEY_CHARS",
    "MAX_KEY_PARTS",
    "MAX_OVERRIDE_BYTES",
    "ScenarioError",
    "apply",
    "apply_overrides",
    "check_key",
    "flatten",
    "get",
    "nearest",
    "parse",
    "parse_override",
]


class ScenarioError(ValueError):
    """Bad scenario input: says where (file, key path) and what is allowed."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        # One line, bounded: a message never carries unbounded input.
        source = _one_line(source, 400)
        key, problem = _one_line(key, 160), _one_line(problem, 600)
        self.source, self.key, self.problem = source, key, problem
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {problem}" if key else f"{where}{problem}")


def _one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse(text: str) -> tuple[str, Any]:
    """``"strategy.process=cost_minimised"`` -> ``("strategy.process", "cost_minimised")``.

    The value is read as YAML, so numbers, booleans and lists get their types.
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ScenarioError("--set", clip(text), "expected KEY=VALUE, e.g. strategy.process=merged")
    key = key.strip()
    check_key(key, "--set")
    try:
        value = load_yaml(raw, max_bytes=MAX_OVERRIDE_BYTES) if raw.strip() else ""
    except YAMLInputError as exc:
        raise ScenarioError("--set", key, f"cannot read the value: {exc}") from None
    return key, value


#: Bytes a ``--set`` value may have.
MAX_OVERRIDE_BYTES = 64 * 1024
#: Longest dotted key, and most parts in one (``segments.0.share`` has three).
MAX_KEY_CHARS, MAX_KEY_PARTS = 200, 8


def check_key(dotted: str, source: str) -> None:
    """A dotted key's shape: bounded, so a hostile key cannot build a deep structure."""
    if not isinstance(dotted, str):
        raise ScenarioError(source, clip(dotted), "a key must be text, e.g. strategy.process")
    parts = dotted.split(".")
    if len(dotted) > MAX_KEY_CHARS or len(parts) > MAX_KEY_PARTS or not all(parts):
        raise ScenarioError(
            source,
            clip(dotted),
            f"not a scenario key: dotted names of at most {MAX_KEY_PARTS} parts,"
            " e.g. strategy.process.empowerment",
        )


def apply(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys in a copy of plain scenario data; list items by index (``segments.0``).

    A preset shorthand (``process: silo``) becomes ``{preset: silo}`` when one of its
    fields is set, so ``strategy.process.empowerment=0.5`` works on either form.
    """
    import copy

    out = copy.deepcopy(data)
    for dotted, value in overrides.items():
        check_key(dotted, "")
        parts = dotted.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: i + 1]))
            if isinstance(node, str) and i + 1 < len(parts):
                node = {"preset": node}
                _set(out, parts[: i + 1], node)
        last = parts[-1]
        if isinstance(node, list):
            index = _index(last, node, dotted)
            node[index] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise ScenarioError("", dotted, f"{'.'.join(parts[:-1])} holds a value, not keys")
    return out


def _index(part: str, node: list, path: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ScenarioError("", path, f"list index must be 0..{len(node) - 1}")
    return int(part)


def _child(node: Any, part: str, path: str) -> Any:
    """The child at ``part``, creating an empty mapping where a key is missing."""
    if isinstance(node, list):
        return node[_index(part, node, path)]
    if isinstance(node, dict):
        if part not in node or node[part] is None:
            node[part] = {}
        return node[part]
    raise ScenarioError("", path, "this key holds a value, not keys")


def _set(root: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = root
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(parts[-1])] = value
    else:
        node[parts[-1]] = value


def get(data: Any, dotted: str) -> Any:
    """The value at ``dotted`` in nested data (list items by index); KeyError if absent."""
    node = data
    for part in dotted.split("."):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise KeyError(dotted)
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(dotted)
    return node


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested data as dotted keys (list items by index), the ``--set`` vocabulary."""
    if isinstance(data, dict):
        items: Iterable[tuple[Any, Any]] = data.items()
    elif isinstance(data, list):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in items:
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict | list) and value:
            out.update(flatten(value, dotted))
        else:
            out[dotted] = value
    return out


def nearest(name: str, allowed: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest allowed name, or nothing if none is close."""
    hint = difflib.get_close_matches(name, list(allowed), n=1)
    return f"; did you mean {hint[0]!r}?" if hint else ""


#: The names scenario.py has always exported.
parse_override = parse
apply_overrides = apply
