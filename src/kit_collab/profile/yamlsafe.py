"""Load a YAML document safely, keeping the line and column of every value.

PyYAML's ``safe_load`` silently keeps the last of two duplicate keys, expands alias bombs and
forgets where a value came from. This loader composes the node tree with the safe loader, then
builds plain Python data itself: duplicate keys are errors, the number of values built is
bounded (an alias bomb fails at once), and ``marks`` maps each path to its (line, column).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml

from kit_collab.errors import InputError, Problem
from kit_collab.i18n import tr

MAX_BYTES = 1024 * 1024  # a commune profile is a few kilobytes
MAX_NODES = 50_000  # values built, aliases counted each time they are used

Path = tuple[str | int, ...]
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


@dataclass
class Document:
    data: Any
    source: str
    marks: dict[Path, tuple[int, int]] = field(default_factory=dict)
    # Paths whose value (and mark) come from another file: inherited defaults.
    files: dict[Path, str] = field(default_factory=dict)

    def _marked(self, path: Path) -> Path | None:
        while True:
            if path in self.marks:
                return path
            if not path:
                return None
            path = path[:-1]

    def mark(self, path: Path) -> tuple[int, int] | None:
        """The (line, column) of a path, or of its nearest ancestor that has one."""
        found = self._marked(path)
        return None if found is None else self.marks[found]

    def file(self, path: Path) -> str:
        """The file the mark of ``path`` is in: the document's own, or its defaults file."""
        found = self._marked(path)
        return self.source if found is None else self.files.get(found, self.source)


def merge(base: Any, override: Any) -> Any:
    """Deep merge of mappings: the override wins; lists and scalars are replaced whole."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def with_defaults(doc: Document, defaults: Document) -> Document:
    """``doc`` over ``defaults``: an inherited value keeps its own file, line and column."""
    if not isinstance(doc.data, dict) or not isinstance(defaults.data, dict):
        return doc
    inherited = {k: v for k, v in defaults.marks.items() if k not in doc.marks}
    return Document(data=merge(defaults.data, doc.data), source=doc.source,
                    marks={**inherited, **doc.marks},
                    files={k: defaults.source for k in inherited if k})


def _fail(source: str, message: str, line: int | None = None,
          column: int | None = None) -> NoReturn:
    problem = Problem("", message, file=source, line=line, column=column)
    raise InputError(message, [problem])


def decode(raw: bytes, source: str) -> str:
    if len(raw) > MAX_BYTES:
        _fail(source, tr(
            f"fichier trop gros ({len(raw)} octets, au plus {MAX_BYTES}) : est-ce bien un profil ?",
            f"file too large ({len(raw)} bytes, at most {MAX_BYTES}): is it really a profile?",
        ))
    if b"\x00" in raw:
        _fail(source, tr("fichier binaire (octet nul) : un profil est un texte YAML",
                         "binary file (NUL byte): a profile is YAML text"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        _fail(source, tr("le fichier n'est pas en UTF-8 : enregistrez-le en UTF-8",
                         "the file is not UTF-8: save it as UTF-8"), line, 1)
    raise AssertionError("unreachable")


def _yaml11_word(node: yaml.Node) -> bool:
    """A plain yes/no/on/off/y/n that YAML 1.1 turns into a boolean: kept as its text (the
    profile's models read "oui", "yes", "on" as true where a boolean is expected)."""
    return (isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool"
            and node.style is None and node.value.lower() not in ("true", "false"))


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.marks: dict[Path, tuple[int, int]] = {}
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            _fail(self.source, tr(
                "document trop grand ou alias imbriqués (bombe d'alias ?) : refusé",
                "document too large or nested aliases (alias bomb?): refused",
            ))
        self.marks.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if node.tag not in _PLAIN_TAGS and not isinstance(node, yaml.ScalarNode):
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            _fail(self.source, tr(f"valeur YAML non prise en charge ({node.tag})",
                                  f"unsupported YAML value ({node.tag})"), line, col)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]
        if _yaml11_word(node):
            return node.value  # `pays: NO` is Norway, not false: text, where text is wanted
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError:
            line, col = node.start_mark.line + 1, node.start_mark.column + 1
            _fail(self.source, tr(f"valeur YAML non prise en charge ({node.tag})",
                                  f"unsupported YAML value ({node.tag})"), line, col)

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                _fail(self.source, tr("les clés de fusion « << » ne sont pas acceptées",
                                      "merge keys '<<' are not accepted"), line, col)
            if not isinstance(key_node, yaml.ScalarNode):
                _fail(self.source, tr("une clé doit être un simple texte",
                                      "a key must be plain text"), line, col)
            key = str(key_node.value)
            if key in result:
                first = self.marks.get((*path, key), (0, 0))[0]
                _fail(self.source, tr(
                    f"clé « {key} » en double (déjà définie ligne {first}) : gardez-en une seule",
                    f"duplicate key '{key}' (already defined on line {first}): keep only one",
                ), line, col)
            self.marks[(*path, key)] = (line, col)
            result[key] = self.build(value_node, (*path, key))
        return result


def load(raw: bytes, source: str) -> Document:
    """Parse one YAML document; raise InputError with file, line and column on any problem."""
    text = decode(raw, source)
    if not text.strip():
        _fail(source, tr("le fichier est vide : lancez « kit-collab init » pour le créer",
                         "the file is empty: run 'kit-collab init' to create it"))
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        from kit_collab.profile.yaml_syntax import explain

        said = explain(exc, text)
        raise InputError(said.message, [Problem("", said.message, file=source, line=said.line,
                                                column=said.column, hint=said.hint)],
                         hint=said.hint) from None
    except yaml.YAMLError as exc:
        _fail(source, tr(f"YAML invalide : {exc}", f"invalid YAML: {exc}"))
    except RecursionError:
        _fail(source, tr("imbrication trop profonde : refusé", "nesting too deep: refused"))
    if node is None:
        _fail(source, tr("le fichier ne contient que des commentaires",
                         "the file holds only comments"))
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except RecursionError:
        _fail(source, tr("imbrication trop profonde : refusé", "nesting too deep: refused"))
    return Document(data=data, source=source, marks=builder.marks)
