"""Reading the XML answers of EC2 and the Query-protocol services (Auto Scaling, ELBv2, STS, ...)
in a fraction of the CPU botocore's own parser takes, to the same dicts.

botocore walks an answer generically: for every element of every page it looks its handler up by
name, strips a namespace with a regular expression, and for every structure visits each member of
the shape (an Auto Scaling group has forty) whether the answer holds it or not; its timestamps go
through dateutil. A warm plan of 10,000 groups reads about 40,000 such items, which took 6 s of
botocore's CPU. Here each shape is turned once into a function that reads one element of it, and
the timestamps AWS and moto send (ISO 8601 in UTC) are read by one regular expression.

What comes out is botocore's answer exactly: the same keys in the same order, the same types
(timestamps in the zone botocore gives them); tests/unit/test_xml_answers.py compares
the two on recorded answers of every describe infra makes. Anything unusual (error answers, maps,
XML attributes, tagged unions, blobs, timestamps in another form) is left to botocore's own code.
Installed per session: `parsing_session()`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import botocore.session
from botocore import parsers

from infra.shared_texts import shared_text

Reader = Callable[[Any], Any]
PARSER_SETTING = "INFRA_AWS_PARSER"  # `botocore`: botocore's own parsers, not the compiled ones
_ISO_UTC = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z\Z")
_NUMBER_TYPES = {"integer": int, "long": int, "float": float, "double": float}


def utc_reader(fallback: Callable[[str], datetime]) -> Callable[[str], datetime]:
    """Reads a timestamp as `fallback` (botocore's parser) does: ISO 8601 in UTC ("...Z", AWS's and
    moto's form) by one regular expression, any other form by `fallback`. The zone is the one
    `fallback` gives such a timestamp (dateutil's tzlocal where the machine's zone is UTC, else tzutc)."""
    zone = fallback("2000-01-01T00:00:00Z").tzinfo

    def read(text: str) -> datetime:
        found = _ISO_UTC.match(text)
        if found is None:
            return fallback(text)
        year, month, day, hour, minute, second, fraction = found.groups()
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second),
                        int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=zone)
    return read


class _CompiledShapes:
    """The reader of each shape met so far (by the shape object: botocore keeps one per member)."""

    def __init__(self, parser: parsers.BaseXMLResponseParser) -> None:
        self.parser = parser
        self.readers: dict[int, tuple[Any, Reader]] = {}  # id(shape) -> (shape, reader); the shape kept alive

    def reader(self, shape: Any) -> Reader:
        known = self.readers.get(id(shape))
        if known is not None and known[0] is shape:
            return known[1]
        made = self._compile(shape)
        self.readers[id(shape)] = (shape, made)
        return made

    def _compile(self, shape: Any) -> Reader:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind in ("string", "character"):
            return self._scalar(shape, None)
        if kind == "boolean":
            return self._scalar(shape, lambda text: text == "true")
        if kind in _NUMBER_TYPES:
            return self._scalar(shape, _NUMBER_TYPES[kind])
        if kind == "timestamp":
            return self._scalar(shape, utc_reader(self.parser._timestamp_parser))  # noqa: SLF001 (its setting)
        return self._botocore(shape)

    def _botocore(self, shape: Any) -> Reader:
        """botocore's own handler of this shape (which reads members through the compiled readers)."""
        parse = parsers.BaseXMLResponseParser._parse_shape  # noqa: SLF001 (botocore's generic dispatch)
        return lambda node: parse(self.parser, shape, node)

    def _scalar(self, shape: Any, convert: Callable[[str], Any] | None) -> Reader:
        botocore_reader = self._botocore(shape)

        def read(node: Any) -> Any:
            if type(node) is list:  # a repeated element: botocore's handler says what that means
                return botocore_reader(node)
            text = node.text
            if text is None:
                text = ""
            return shared_text(text) if convert is None else convert(text)
        return read

    def _list(self, shape: Any) -> Reader:
        flattened = bool(shape.serialization.get("flattened"))
        texts = _is_text(shape.member)
        item: Reader | None = None

        def read(node: Any) -> list[Any]:
            nonlocal item
            if flattened and type(node) is not list:
                node = [node]
            if texts:
                return [_text_of(child) for child in node]
            if item is None:  # compiled on first use: a shape may contain itself
                item = self.reader(shape.member)
            return [item(child) for child in node]
        return read

    def _structure(self, shape: Any) -> Reader:
        members = shape.members
        if shape.metadata.get("exception") or shape.is_tagged_union or any(
                m.serialization.get("xmlAttribute") for m in members.values()):
            return self._botocore(shape)
        # (member name, its XML element's name, its shape), in the shape's order: botocore's key order
        fields = [(name, _element_name(member, name), member) for name, member in members.items()
                  if member.serialization.get("location") not in parsers.ResponseParser.KNOWN_LOCATIONS
                  and not member.serialization.get("eventheader")]
        position = {element: index for index, (_, element, _) in enumerate(fields)}
        place = {name: index for index, (name, _, _) in enumerate(fields)}
        # an element's tag as found (namespaced or not) -> (its member's place, name, reader or None for
        # plain text), or None for an element the shape does not have
        entries: dict[str, tuple[int, str, Reader | None] | None] = {}
        botocore_reader = self._botocore(shape)

        def entry_of(tag: str) -> tuple[int, str, Reader | None] | None:
            index = position.get(_local_name(tag))
            if index is None:
                entries[tag] = None
                return None
            name, _, member = fields[index]
            entries[tag] = entry = (index, name, None if _is_text(member) else self.reader(member))
            return entry

        def read(node: Any) -> dict[str, Any]:
            if type(node) is list:
                node = node[0]
            parsed: dict[str, Any] = {}
            last, in_order = -1, True
            for child in node:
                tag = child.tag
                entry = entries[tag] if tag in entries else entry_of(tag)
                if entry is None:
                    continue
                index, name, reader = entry
                if name in parsed:  # repeated: a flattened list's items, which botocore gathers; seldom seen
                    return botocore_reader(node)
                parsed[name] = _text_of(child) if reader is None else reader(child)
                if index < last:
                    in_order = False
                last = index
            if in_order:  # AWS (and moto) write members in the shape's order, which is botocore's key order
                return parsed
            return dict(sorted(parsed.items(), key=lambda item: place[item[0]]))
        return read


def _is_text(shape: Any) -> bool:
    """A string member: read as its element's text, with no reader to call."""
    return shape.type_name in ("string", "character")


def _text_of(node: Any) -> str:
    text = node.text
    return "" if text is None else shared_text(text)


_NAMESPACE = re.compile("{.*}")


def _local_name(tag: str) -> str:
    """A tag without its namespace (`{http://...}Name`: Name), as botocore's _node_tag strips it."""
    return _NAMESPACE.sub("", tag) if "{" in tag else tag


def _element_name(member: Any, name: str) -> str:
    """The element a structure's member is read from (botocore: BaseXMLResponseParser._member_key_name)."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name is not None:
            return str(item_name)
    return str(member.serialization.get("name", name))


class _Compiled:
    """Mixed into botocore's XML parsers: shapes read by the compiled readers their factory shares
    (botocore makes a parser per answer), tags stripped only when namespaced. Error answers and the
    outer walk stay botocore's."""

    compiled: _CompiledShapes

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        return self.compiled.reader(shape)(node)

    def _node_tag(self, node: Any) -> str:
        return _local_name(node.tag)


class QueryAnswers(_Compiled, parsers.QueryParser):
    pass


class Ec2Answers(_Compiled, parsers.EC2QueryParser):
    pass


class ParserFactory(parsers.ResponseParserFactory):
    """botocore's factory, with the compiled parsers for EC2 and the Query protocol; the readers of
    each protocol are compiled once per factory (one per session) and shared by its parsers."""

    FASTER: dict[str, type[QueryAnswers]] = {"query": QueryAnswers, "ec2": Ec2Answers}

    def __init__(self) -> None:
        super().__init__()
        self._compiled: dict[str, _CompiledShapes] = {}

    def create_parser(self, protocol_name: str) -> parsers.ResponseParser:
        faster = self.FASTER.get(protocol_name)
        if faster is None:
            return super().create_parser(protocol_name)
        parser = faster(**self._defaults)  # noqa: SLF001 (the factory's own defaults, as its create_parser reads)
        compiled = self._compiled.get(protocol_name)
        if compiled is None:  # two threads may both compile: the same readers, one kept
            compiled = self._compiled.setdefault(protocol_name, _CompiledShapes(parser))
        parser.compiled = compiled
        return parser


def parsing_session() -> botocore.session.Session:
    """A botocore session whose clients read XML answers with the compiled parsers; with
    INFRA_AWS_PARSER=botocore in the environment, with botocore's own (should a botocore release
    read some answer otherwise: docs/aws-behaviour.md)."""
    session = botocore.session.get_session()
    if os.environ.get(PARSER_SETTING, "").strip().lower() != "botocore":
        session.register_component("response_parser_factory", ParserFactory())
    return session
