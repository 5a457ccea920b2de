"""Mask secret values in text before it leaves the delegate.

Every value the delegate resolves or holds (secrets, its token, assumed-role credentials) is
registered with one `Masker`; every log line and structured event passes through `mask` before it
is spooled or shipped. No I/O happens here.

Design:

* A value is registered together with the forms in which it commonly leaks: base64 (standard and
  URL-safe, with and without padding, as in HTTP Basic auth headers or Kubernetes-style blobs),
  URL-encoded (`quote` and `quote_plus`, as in connection strings and query strings), JSON-escaped
  (as in a logged JSON document), and for multi-line values (PEM keys, certificates) every
  non-trivial line on its own, because tools log such values one line at a time.
* Matching finds the longest form starting at *every* position (a lookahead around the
  alternation), merges the spans, and turns each merged span into one `**********`. That covers
  overlapping secrets ("abcdef" and "defghi" in "abcdefghi") completely instead of leaving the tail
  of the second one in clear text.
* The alternation is written as a trie (`ab(?:c|d)` rather than `abc|abd`): `re` tries the branches
  of an alternation one by one at every position, so a flat list costs time proportional to the
  number of forms per character of log text, while a trie costs roughly the length of the match.
* Patterns are compiled lazily (on the first `mask` after an `add`) into levels merged like a binary
  counter: new forms get a small level of their own, merged into the previous level once they
  outnumber it. Alternating `add` and `mask` (resolve a secret, log, resolve the next one) thus
  costs O(n log n) compile work in total instead of recompiling everything each time, and there are
  at most log2(n) patterns to run. `mask` reads an immutable tuple of levels and takes no lock
  unless something was added; `add` and the rebuild hold a lock.

Known limit: base64 of a secret embedded at an arbitrary offset inside a longer base64 blob encodes
differently (three possible alignments of the surrounding bytes) and is not recognised.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any, NamedTuple, TypeVar, cast
from urllib.parse import quote, quote_plus

MASK = "**********"

# Values shorter than this are never replaced: masking a one- to three-character secret such as "a"
# or "123" would replace that substring in every word, number and timestamp and destroy the logs
# while protecting nothing (a value that short is guessable anyway). They are still registered, so
# `value in masker` answers True for them.
MIN_MASK_LENGTH = 4

# Trie key marking "a form ends here"; real keys are single characters, so "" cannot collide.
_END = ""

# `re` recurses once per nested group and fails near 500 levels; past this many nested branch points
# (only reached by pathological sets such as "aaaa", "aaaaa", ...) the rest of a trie is written flat.
_MAX_TRIE_NESTING = 100

_T = TypeVar("_T")


def _leak_forms(value: str) -> set[str]:
    """The value and the encodings in which it commonly shows up in logs."""
    # surrogatepass: a value holding a lone surrogate (not valid UTF-8) must still be maskable.
    raw = value.encode("utf-8", "surrogatepass")
    forms = {value}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms.add(text)
        forms.add(text.rstrip("="))
    forms.add(quote(value, safe="", errors="surrogatepass"))
    forms.add(quote(value, errors="surrogatepass"))  # the default keeps "/" as is, as many URL builders do
    forms.add(quote_plus(value, errors="surrogatepass"))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    if "\n" in value or "\r" in value:
        for line in value.splitlines():
            forms.add(line.strip())
    return {form for form in forms if len(form) >= MIN_MASK_LENGTH}


def _suffixes(node: dict[str, dict[str, Any]]) -> list[str]:
    """Every string spelled from `node` to a terminal ("" when `node` itself is terminal)."""
    found: list[str] = []
    stack: list[tuple[str, dict[str, Any]]] = [("", node)]
    while stack:
        prefix, current = stack.pop()
        for char, child in current.items():
            if char == _END:
                found.append(prefix)
            else:
                stack.append((prefix + char, child))
    return found


def _trie_alternation(node: dict[str, dict[str, Any]], nesting: int = 0) -> str:
    """A regex matching the longest string of the trie that starts at the current position."""
    parts: list[str] = []
    while True:  # single-child chains become plain literals, without a group
        children = sorted(char for char in node if char != _END)
        terminal = _END in node
        if len(children) != 1 or terminal:
            break
        parts.append(re.escape(children[0]))
        node = node[children[0]]
    if not children:
        return "".join(parts)
    if nesting >= _MAX_TRIE_NESTING:
        rest = sorted((suffix for suffix in _suffixes(node) if suffix), key=lambda s: (-len(s), s))
        branches = [re.escape(suffix) for suffix in rest]  # longest first: the first match is longest
    else:
        branches = [re.escape(char) + _trie_alternation(node[char], nesting + 1) for char in children]
    # Greedy "?" tries the longer continuation before stopping at a shorter value that ends here.
    return "".join(parts) + "(?:" + "|".join(branches) + ")" + ("?" if terminal else "")


def _compile(forms: frozenset[str]) -> re.Pattern[str]:
    trie: dict[str, dict[str, Any]] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[_END] = {}
    # Capturing group inside a lookahead: a zero-width match at each start position, so finditer
    # reports overlapping occurrences too; group 1 spans the longest form starting there.
    return re.compile(f"(?=({_trie_alternation(trie)}))")


class _Level(NamedTuple):
    forms: frozenset[str]
    pattern: re.Pattern[str]


class Masker:
    """A thread-safe registry of secret values that replaces them (and their encodings) in text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._forms: set[str] = set()
        self._pending: set[str] = set()  # forms registered but not compiled into a level yet
        self._dirty = False
        # Replaced as a whole, never mutated, so `mask` can read it without the lock.
        self._levels: tuple[_Level, ...] = ()

    def add(self, value: str) -> None:
        """Register a secret value; from now on `mask` hides it and its encoded forms."""
        if not value:
            return
        forms = _leak_forms(value)
        with self._lock:
            self._values.add(value)
            new = forms - self._forms
            if new:
                self._forms |= new
                self._pending |= new
                self._dirty = True

    def __contains__(self, value: object) -> bool:
        """Whether this exact value was registered (short values included)."""
        with self._lock:
            return value in self._values

    @property
    def secret_count(self) -> int:
        """How many distinct secret values are registered (not counting derived forms).

        A property rather than `__len__` on purpose: an empty Masker must not be falsy, or
        `masker or Masker()` would silently swap a shared, still-empty masker for a private one.
        """
        with self._lock:
            return len(self._values)

    def _current_levels(self) -> tuple[_Level, ...]:
        if not self._dirty:
            return self._levels
        with self._lock:
            if self._dirty:
                merged = set(self._pending)
                levels = list(self._levels)
                while levels and len(levels[-1].forms) <= len(merged):
                    merged |= levels.pop().forms
                frozen = frozenset(merged)
                levels.append(_Level(frozen, _compile(frozen)))
                self._levels = tuple(levels)
                self._pending.clear()
                self._dirty = False
            return self._levels

    def mask(self, text: str) -> str:
        """Return `text` with every registered value and encoded form replaced by `**********`."""
        levels = self._current_levels()
        if not levels or not text:
            return text
        found = [(match.start(), match.end(1)) for level in levels for match in level.pattern.finditer(text)]
        if not found:
            return text
        if len(levels) > 1:
            found.sort()
        spans: list[tuple[int, int]] = []
        for start, end in found:
            if spans and start <= spans[-1][1]:  # overlapping or adjacent: one mask for both
                if end > spans[-1][1]:
                    spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        pieces: list[str] = []
        cursor = 0
        for start, end in spans:
            pieces.append(text[cursor:start])
            pieces.append(MASK)
            cursor = end
        pieces.append(text[cursor:])
        return "".join(pieces)

    def mask_obj(self, obj: _T) -> _T:
        """A copy of `obj` with every string inside dicts, lists and tuples masked (keys too)."""
        if isinstance(obj, str):
            return cast(_T, self.mask(obj))
        if isinstance(obj, dict):
            return cast(_T, {self.mask_obj(key): self.mask_obj(item) for key, item in obj.items()})
        if isinstance(obj, list):
            return cast(_T, [self.mask_obj(item) for item in obj])
        if isinstance(obj, tuple):
            return cast(_T, tuple(self.mask_obj(item) for item in obj))
        return obj
