"""Reading YAML a user hands over, with bounds: the one loader for scenarios, experiments
and ``--set`` values.

``yaml.safe_load`` refuses arbitrary tags, but bounds nothing else: a 600-byte file of
nested aliases ("billion laughs") reads as a small graph of shared references and then
explodes into gigabytes as soon as anything walks it (a validation message, a model
dump, a deep copy); 1,000 nested brackets end in ``RecursionError``; a 50 MB file takes
minutes. :class:`BoundedLoader` is PyYAML's ``SafeLoader`` with the composer counting as
it builds the node graph, so every bound is enforced while parsing, before any of the
input is expanded:

- size: the file is read up to ``max_bytes`` plus one byte and refused beyond;
- encoding: the bytes must be UTF-8 text (a byte-order mark is allowed, NUL is not);
- depth: at most ``MAX_DEPTH`` nested mappings or sequences;
- nodes: at most ``MAX_NODES`` nodes *after* expanding aliases, so an alias is charged
  the full size of what it stands for, and at most ``MAX_ALIASES`` aliases in all;
- no value may contain itself (``&a [*a]``: an alias inside the value its anchor names),
  which PyYAML builds as a list holding itself, and which no later step can walk;
- duplicate keys in one mapping are an error (YAML says keys are unique; PyYAML keeps
  the last one silently).

Every problem is a :class:`YAMLInputError` with a one-line message that quotes no more
than a few dozen characters of the input (:func:`clip`).
"""

from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:  # libyaml scans ~50x faster than PyYAML's pure-Python scanner and bounds flow nesting
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML wheels ship libyaml
    from yaml.parser import Parser as _PyParser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _PyParser):  # type: ignore[no-redef]
        """PyYAML's own scanner, refusing deep flow nesting before its simple-key search
        (linear in the nesting at every token) makes ``[[[[...`` quadratic."""

        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _PyParser.__init__(self)

        def fetch_flow_collection_start(self, token_class: Any) -> None:
            if self.flow_level >= MAX_DEPTH:
                raise YAMLInputError(
                    f"nested deeper than {MAX_DEPTH} levels", self.get_mark().line + 1
                )
            super().fetch_flow_collection_start(token_class)


__all__ = [
    "MAX_ALIASES",
    "MAX_DEPTH",
    "MAX_NODES",
    "BoundedLoader",
    "YAMLInputError",
    "clip",
    "load_yaml",
    "read_yaml",
]

#: Nesting deeper than this is not a scenario (the schema itself is 4 levels deep).
MAX_DEPTH = 32
#: Nodes after expanding aliases: a full scenario with every key written out has ~400.
MAX_NODES = 10_000
#: Aliases in one document (the shipped files use none).
MAX_ALIASES = 100
#: Bytes a scenario or experiment file may have (the shipped ones have under 2 KiB).
MAX_FILE_BYTES = 1 << 20
#: Characters of input quoted in a message.
QUOTE_CHARS = 60

_repr = reprlib.Repr()
_repr.maxlevel = 3
_repr.maxstring = QUOTE_CHARS
_repr.maxother = QUOTE_CHARS
_repr.maxlist = _repr.maxtuple = _repr.maxdict = _repr.maxset = 4


def clip(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A bounded, one-line ``repr`` of user input, for messages.

    ``reprlib`` stops at a few levels and items, so even a graph of shared references
    that would expand to gigabytes prints in microseconds.
    """
    text = _repr.repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 3] + "..."


class YAMLInputError(ValueError):
    """Input outside the loader's bounds or not valid YAML; ``line`` is 1-based (0: none)."""

    def __init__(self, problem: str, line: int = 0) -> None:
        self.problem, self.line = problem, line
        super().__init__(f"line {line}: {problem}" if line else problem)


def _line(node_or_mark: Any) -> int:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    return mark.line + 1 if mark is not None else 0


class BoundedLoader(Composer, _Parser, SafeConstructor, Resolver):
    """``SafeLoader`` (libyaml's parser when present) whose composer enforces depth,
    alias and expanded-size bounds.

    PyYAML's Python ``Composer`` comes first in the bases, so it composes the parser's
    events (libyaml's own composer would not count). The composer is where aliases are
    resolved to nodes, so it is the one place that sees the expanded size before
    anything walks it. Each node's expanded size is computed once (aliases point at
    already-composed nodes), so counting is linear in the text, not in the expansion.
    """

    max_depth = MAX_DEPTH
    max_nodes = MAX_NODES
    max_aliases = MAX_ALIASES

    def __init__(self, stream: str) -> None:
        _Parser.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._aliases = 0
        self._nodes = 0
        self._sizes: dict[int, int] = {}
        self._open: list[str | None] = []  # anchors of the values being composed

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > self.max_aliases:
                event = self.peek_event()
                raise YAMLInputError(
                    f"more than {self.max_aliases} aliases (*name); write the values out",
                    _line(event),
                )
            event = self.peek_event()
            if event.anchor in self._open:
                name = event.anchor if len(event.anchor) <= 30 else event.anchor[:27] + "..."
                raise YAMLInputError(
                    f"*{name} is inside the value &{name} names: a value cannot contain itself",
                    _line(event),
                )
            node = Composer.compose_node(self, parent, index)
            self._charge(self._size(node), event)
            return node
        event = self.peek_event()
        self._depth += 1
        if self._depth > self.max_depth:
            raise YAMLInputError(f"nested deeper than {self.max_depth} levels", _line(event))
        self._open.append(getattr(event, "anchor", None))
        try:
            node = Composer.compose_node(self, parent, index)
        finally:
            self._depth -= 1
            self._open.pop()
        self._charge(1, event)
        return node

    def _charge(self, nodes: int, event: Any) -> None:
        self._nodes += nodes
        if self._nodes > self.max_nodes:
            raise YAMLInputError(
                f"more than {self.max_nodes:,} values (counting what aliases repeat)",
                _line(event),
            )

    def _size(self, node: Node) -> int:
        """Nodes under ``node`` with aliases expanded, memoised by identity."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, ScalarNode):
            size = 1
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            size = 1 + sum(self._size(k) + self._size(v) for k, v in node.value)
        else:  # pragma: no cover - PyYAML has no other node kinds
            size = 1
        self._sizes[id(node)] = size
        return size

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    raise YAMLInputError(
                        f"a key must be a plain value, not {clip(key)}", _line(key_node)
                    ) from None
                if duplicate:
                    raise YAMLInputError(
                        f"duplicate key {clip(key)} (each key may appear once)", _line(key_node)
                    )
        return super().construct_mapping(node, deep=deep)


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YAMLInputError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start});"
            " save the file as UTF-8",
            line,
        ) from None
    if "\x00" in text:
        raise YAMLInputError("contains a NUL character; this is not a text file")
    return text


def load_yaml(text: str | bytes, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Parse one YAML document within the bounds; raises :class:`YAMLInputError`."""
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    if len(data) > max_bytes:
        raise YAMLInputError(f"larger than {max_bytes:,} bytes")
    source = _decode(data)
    loader = BoundedLoader(source)
    try:
        return loader.get_single_data()
    except YAMLInputError:
        raise
    except yaml.MarkedYAMLError as exc:
        problem = " ".join(str(exc.problem or exc.context or "cannot be read").split())
        if "nesting depth" in problem:  # libyaml's own bound on flow nesting
            raise YAMLInputError(f"nested deeper than {MAX_DEPTH} levels", 1) from None
        line = _line(exc.problem_mark)
        raise YAMLInputError(f"not valid YAML: {clip(problem, 120)}", line) from None
    except yaml.YAMLError as exc:
        problem = " ".join(str(exc).split())
        raise YAMLInputError(f"not valid YAML: {clip(problem, 120)}") from None
    except RecursionError:  # pragma: no cover - the depth bound comes first
        raise YAMLInputError(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        loader.dispose()


def read_yaml(path: Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """Read and parse a YAML file within the bounds, reading at most ``max_bytes + 1`` bytes.

    Raises :class:`YAMLInputError` for input outside the bounds and ``OSError`` (as
    Python raises it) when the file cannot be opened.
    """
    with open(path, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise YAMLInputError(f"larger than {max_bytes:,} bytes")
    return load_yaml(data, max_bytes)
