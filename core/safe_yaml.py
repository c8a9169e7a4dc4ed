"""YAML from users, loaded safely: plain data only, and bounded in size, aliases and nesting.

``yaml.safe_load`` never builds an object a document names (no
``!!python/object``), but it still accepts a "billion laughs" document: a few
lines of anchors and aliases (``&a [*b, *b, ...]``) that expand to billions of
values once anything walks them (validation, export, a diff). Here a document
is refused, with a message saying what to fix, when it is larger than
:data:`MAX_YAML_BYTES`, uses more than :data:`MAX_YAML_ALIASES` aliases,
expands to more than :data:`MAX_YAML_NODES` values, refers to itself, or is
nested too deeply. Every YAML that comes from a user (``python -m core apply``
files, an uploaded mapping) goes through :func:`load_yaml`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from core.errors import ConfigurationError

#: The largest YAML document read (a workspace's whole configuration fits in far less).
MAX_YAML_BYTES = 10 * 1024 * 1024
#: The most aliases (``*name``) a document may use.
MAX_YAML_ALIASES = 1_000
#: The most values a document may hold once its aliases are expanded.
MAX_YAML_NODES = 1_000_000


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting the aliases it meets while composing the document."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise _TooLarge(f"it uses more than {MAX_YAML_ALIASES:,} aliases (*name)")
        return super().compose_node(parent, index)  # type: ignore[no-any-return]


class _TooLarge(Exception):
    """A document over one of the bounds; says which."""


def load_yaml(text: str | bytes, where: str) -> Any:
    """Parses one YAML document into plain values (dicts, lists, strings, numbers...).

    Args:
        text: the document.
        where: what it is, for messages (a file name, "the mapping file").

    Raises:
        ConfigurationError: it is not valid YAML, or is over a bound; the message says where and why.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > MAX_YAML_BYTES:
        raise ConfigurationError(
            f"{where}: more than {MAX_YAML_BYTES // (1024 * 1024)} MB of YAML, more than Tributary "
            "reads in one document: split it into several files."
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ConfigurationError(f"{where}: not UTF-8 text ({error.reason}); save it as UTF-8.") from None
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigurationError(f"{where}: not valid YAML{at}: {getattr(error, 'problem', error)}") from None
    except _TooLarge as error:
        raise ConfigurationError(
            f"{where}: refused, as {error}: write the values out instead of repeating anchors "
            "(an alias bomb such as 'billion laughs' looks like this)."
        ) from None
    except RecursionError:
        raise ConfigurationError(f"{where}: refused, as it is nested too deeply.") from None
    finally:
        loader.dispose()


def _expanded_size(node: Node, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """How many values ``node`` holds with its aliases expanded; raises _TooLarge over the bound.

    Each node is counted once (``sizes``), so a bomb is measured without being expanded.
    """
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        raise _TooLarge("it refers to itself (an alias inside its own anchor)")
    open_nodes.add(key)
    size = 1
    if isinstance(node, SequenceNode):
        size += sum(_expanded_size(child, sizes, open_nodes) for child in node.value)
    elif isinstance(node, MappingNode):
        for name, value in node.value:
            size += _expanded_size(name, sizes, open_nodes) + _expanded_size(value, sizes, open_nodes)
    open_nodes.discard(key)
    if size > MAX_YAML_NODES:
        raise _TooLarge(f"its anchors and aliases expand to more than {MAX_YAML_NODES:,} values")
    sizes[key] = size
    return size
