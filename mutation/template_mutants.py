"""One-change mutants of Helm templates: each is one defect a chart author could make.

Operators, by line:
- drop-key / drop-item / drop-line: remove a YAML key (with its block), a list item (with its
  block), or one line (text of NOTES.txt, an `include` line, a `set` line);
- flip-bool, number, string: change a YAML scalar (true/false, n -> n+1, s -> s-mutated);
- rbac-drop / rbac-swap / rbac-widen: in `verbs:`, `resources:`, `apiGroups:` lists, drop an
  element, swap it for a neighbour (get -> patch, secrets -> configmaps, ...), or grant `*`;
and inside `{{ }}` actions:
- negate-if (`if X` -> `if not (X)`), swap-logic (and/or, eq/ne, lt/le, gt/ge), drop-not,
- drop-pipe (`| quote`, `| nindent 4`, `| trunc 63`, `| b64enc`, ...), drop-default
  (`default A B` -> `B`), string and number literals, true/false.

Lines that only open or close a block (`if`, `range`, `end`, `define`) are never dropped alone:
that is a template that does not parse, not a defect; their conditions are mutated instead.
Template names (`include "x"`, `define "x"`) are not mutated for the same reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

MUTATED = "mutated"

_ACTION = re.compile(r"\{\{(-?\s*)(.*?)(\s*-?)\}\}")
_TOKEN = re.compile(
    r'(?P<string>"(?:[^"\\]|\\.)*")'
    r"|(?P<raw>`[^`]*`)"
    r"|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])"
    r"|(?P<word>[A-Za-z_][\w]*)"
    r"|(?P<field>[$.][\w.$]*)"
    r"|(?P<lparen>\()"
    r"|(?P<rparen>\))"
    r"|(?P<pipe>\|)"
    r"|(?P<assign>:?=)"
    r"|(?P<other>\S)"
)
_OPENERS = {"if", "range", "with", "define", "block"}
_CONTROL = _OPENERS | {"else", "end", "break", "continue"}
_LOGIC_SWAPS = {"and": "or", "or": "and", "eq": "ne", "ne": "eq", "lt": "le", "le": "lt", "gt": "ge", "ge": "gt"}
_NAME_TAKERS = {"include", "template", "define", "block"}
_INDENTERS = {"nindent", "indent"}
_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<dash>- )?(?P<key>[\w./-]+):(?P<rest>\s.*|)$")
_ITEM_LINE = re.compile(r"^(?P<indent>\s*)- (?P<rest>.*)$")
_INT = re.compile(r"^-?\d+$")

# RBAC: swap an element for one the rule does not grant, or widen the rule.
_VERB_CYCLE = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"]
_RESOURCE_SWAPS = {
    "jobs": "cronjobs",
    "jobs/status": "jobs/scale",
    "pods": "pods/exec",
    "pods/log": "pods/exec",
    "secrets": "configmaps",
    "configmaps": "secrets",
    "services": "endpoints",
    "endpoints": "services",
    "deployments": "statefulsets",
    "networkpolicies": "ingresses",
}
_GROUP_SWAPS = {'""': "apps", "batch": '""', "apps": '""', "networking.k8s.io": '""', "rbac.authorization.k8s.io": '""'}


@dataclass(frozen=True)
class Mutant:
    """Replace lines [line, end_line] (1-based, inclusive) of `path` with `replacement`."""

    path: str  # relative to the chart, e.g. templates/role.yaml
    line: int
    end_line: int
    operator: str
    before: str
    after: str
    replacement: tuple[str, ...]

    @property
    def id(self) -> str:
        digest = hashlib.sha1("\n".join(self.replacement).encode()).hexdigest()[:8]
        return f"{self.path}:{self.line}:{self.operator}:{digest}"

    @property
    def change(self) -> str:
        """`before -> after`, trimmed to the part that differs (with a little context)."""
        if not self.after:
            span = f" (and {self.end_line - self.line} lines below)" if self.end_line > self.line else ""
            return f"drop `{self.before}`{span}"
        before, after = _differing(self.before, self.after)
        return f"`{before}` -> `{after}`"

    def apply(self, text: str) -> str:
        lines = text.split("\n")
        lines[self.line - 1 : self.end_line] = list(self.replacement)
        return "\n".join(lines)


def _differing(before: str, after: str, context: int = 24) -> tuple[str, str]:
    prefix = 0
    while prefix < min(len(before), len(after)) and before[prefix] == after[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(before), len(after)) - prefix and before[-1 - suffix] == after[-1 - suffix]:
        suffix += 1
    start = max(0, prefix - context)

    def part(text: str) -> str:
        end = min(len(text), len(text) - suffix + context)
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

    return part(before), part(after)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int


def _tokens(inner: str) -> list[_Token]:
    return [_Token(m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(inner)]


def _is_comment_action(inner: str) -> bool:
    return inner.startswith("/*")


def _control_word(inner: str) -> str | None:
    word = inner.split(None, 1)[0] if inner.strip() else ""
    return word if word in _CONTROL else None


def _balance(lines: list[str]) -> bool:
    """True when the `{{ }}` blocks opened in these lines are closed in them, in order."""
    depth = 0
    for line in lines:
        for match in _ACTION.finditer(line):
            word = _control_word(match.group(2))
            if word in _OPENERS:
                depth += 1
            elif word == "end":
                depth -= 1
                if depth < 0:
                    return False
    return depth == 0


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _comment_lines(lines: list[str], yaml_comments: bool) -> list[bool]:
    """Lines that are `{{/* */}}` comments (possibly multi-line) or YAML `#` comments."""
    out = [False] * len(lines)
    inside = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if inside:
            out[i] = True
            inside = "*/" not in line
            continue
        if re.match(r"^\{\{-?\s*/\*", stripped):
            out[i] = True
            inside = "*/" not in stripped
        elif yaml_comments and stripped.startswith("#"):
            out[i] = True
    return out


def _only_actions(stripped: str) -> bool:
    return bool(stripped) and _ACTION.sub("", stripped).strip() == ""


def _structural(stripped: str) -> bool:
    """An actions-only line whose actions all open, continue or close blocks."""
    return all(_control_word(m.group(2)) for m in _ACTION.finditer(stripped))


def _declares_variable(stripped: str) -> bool:
    """`$x := ...` other than `$_`: dropping it leaves an undefined variable (does not parse)."""
    return any(re.match(r"^\$(?!_\s)\w+\s*:=", m.group(2)) for m in _ACTION.finditer(stripped))


def _block_end(lines: list[str], start: int) -> int:
    """Index of the last line of the YAML block that starts at `start` (children are deeper)."""
    base = _indent(lines[start])
    end = start
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if not line.strip():
            continue
        if _indent(line) <= base:
            break
        end = j
    return end


def _opens_block(line: str) -> bool:
    """A YAML key without an inline value, or a list item: its children follow, deeper."""
    key = _KEY_LINE.match(line)
    if key and not key.group("rest").strip():
        return True
    return bool(_ITEM_LINE.match(line))


def mutants_of(path: str, text: str) -> list[Mutant]:
    """Every mutant of one template file, in line order."""
    lines = text.split("\n")
    is_notes = path.endswith("NOTES.txt")
    comment = _comment_lines(lines, yaml_comments=not is_notes)
    found: list[Mutant] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or comment[i] or stripped == "---":
            continue
        found.extend(_line_drops(path, lines, i, is_notes))
        if not _only_actions(stripped) and not is_notes:
            found.extend(_scalar_mutants(path, i, line))
        found.extend(_action_mutants(path, i, line))
    return found


def _line_drops(path: str, lines: list[str], i: int, is_notes: bool) -> Iterator[Mutant]:
    line = lines[i]
    stripped = line.strip()
    if _only_actions(stripped):
        if _structural(stripped) or not _balance([stripped]) or _declares_variable(stripped):
            return
        yield _drop(path, i, i, lines, "drop-line")
        return
    if is_notes:
        if _balance([stripped]):
            yield _drop(path, i, i, lines, "drop-line")
        return
    operator = "drop-item" if _ITEM_LINE.match(line) else "drop-key" if _KEY_LINE.match(line) else "drop-line"
    end = _block_end(lines, i) if _opens_block(line) else i
    if _balance(lines[i : end + 1]):
        yield _drop(path, i, end, lines, operator)


def _drop(path: str, start: int, end: int, lines: list[str], operator: str) -> Mutant:
    return Mutant(path, start + 1, end + 1, operator, lines[start].strip(), "", ())


def _replace(path: str, i: int, line: str, new: str, operator: str, before: str, after: str) -> Mutant:
    return Mutant(path, i + 1, i + 1, operator, before, after, (new,))


def _scalar_mutants(path: str, i: int, line: str) -> Iterator[Mutant]:
    """Literal YAML values (no `{{` in them): booleans, numbers, strings, flow lists."""
    key = _KEY_LINE.match(line)
    if key:
        prefix_len = len(line) - len(key.group("rest"))
        value = key.group("rest").strip()
        name = key.group("key")
    else:
        item = _ITEM_LINE.match(line)
        if not item:
            return
        prefix_len = len(line) - len(item.group("rest"))
        value = item.group("rest").strip()
        name = ""
    if not value or "{{" in value or value in ("[]", "{}", "|", ">", "|-", ">-"):
        return
    if re.search(r"\s#", value):
        value = re.split(r"\s#", value, 1)[0].strip()
    start = line.index(value, prefix_len)
    end = start + len(value)

    def swap(new: str, operator: str) -> Mutant:
        return _replace(path, i, line, line[:start] + new + line[end:], operator, line.strip(), (line[:start] + new + line[end:]).strip())

    if value.startswith("[") and value.endswith("]"):
        yield from _flow_list_mutants(path, i, line, start, end, name, value)
        return
    if value in ("true", "false"):
        yield swap("false" if value == "true" else "true", "flip-bool")
        return
    quote = value[0] if value[0] in "'\"" and value[-1] == value[0] and len(value) > 1 else ""
    body = value[1:-1] if quote else value
    if _INT.match(body):
        yield swap(f"{quote}{int(body) + 1}{quote}", "number")
    else:
        yield swap(f"{quote}{body}-{MUTATED}{quote}" if body else f"{quote}{MUTATED}{quote}", "string")


def _flow_list_mutants(path: str, i: int, line: str, start: int, end: int, name: str, value: str) -> Iterator[Mutant]:
    elements = [e.strip() for e in value[1:-1].split(",") if e.strip()]

    def with_elements(new: list[str], operator: str) -> Mutant:
        text = line[:start] + "[" + ", ".join(new) + "]" + line[end:]
        return _replace(path, i, line, text, operator, line.strip(), text.strip())

    rbac = name in ("verbs", "resources", "apiGroups")
    prefix = "rbac-" if rbac else "list-"
    if len(elements) > 1:
        for k in range(len(elements)):
            yield with_elements(elements[:k] + elements[k + 1 :], f"{prefix}drop")
    if not rbac:
        return
    for k, element in enumerate(elements):
        if name == "verbs":
            swap = next((v for v in _VERB_CYCLE[_VERB_CYCLE.index(element) + 1 :] + _VERB_CYCLE if v not in elements), None) if element in _VERB_CYCLE else None
        elif name == "resources":
            swap = _RESOURCE_SWAPS.get(element)
        else:
            swap = _GROUP_SWAPS.get(element)
        if swap and swap not in elements:
            yield with_elements(elements[:k] + [swap] + elements[k + 1 :], "rbac-swap")
    if name in ("verbs", "resources") and elements != ['"*"']:
        yield with_elements(['"*"'], "rbac-widen")


def _action_mutants(path: str, i: int, line: str) -> Iterator[Mutant]:
    for match in _ACTION.finditer(line):
        inner = match.group(2)
        if _is_comment_action(inner):
            continue
        offset = match.start(2)
        for new_inner, operator, before, after in _inner_mutants(inner):
            new_line = line[:offset] + new_inner + line[offset + len(inner) :]
            yield _replace(path, i, line, new_line, operator, before, after)


def _inner_mutants(inner: str) -> Iterator[tuple[str, str, str, str]]:
    """(new action text, operator, before, after) for one action's content."""
    tokens = _tokens(inner)
    if not tokens:
        return
    words = [t.text for t in tokens]
    if words[0] == "define":
        return

    def cut(start: int, end: int, new: str) -> str:
        return inner[:start] + new + inner[end:]

    # negate-if: the whole condition of `if` / `else if`.
    cond_at = 1 if words[0] == "if" else 2 if words[:2] == ["else", "if"] else 0
    # `if not X` is left to drop-not, which makes the same mutant.
    if cond_at and len(tokens) > cond_at and words[cond_at] != "not":
        new = cut(tokens[cond_at].start, len(inner), f"not ({inner[tokens[cond_at].start :]})")
        yield new, "negate-if", inner, new

    for k, tok in enumerate(tokens):
        previous = tokens[k - 1].text if k else ""
        if tok.kind == "word" and tok.text in _LOGIC_SWAPS and previous not in _NAME_TAKERS:
            new = cut(tok.start, tok.end, _LOGIC_SWAPS[tok.text])
            yield new, "swap-logic", inner, new
        elif tok.kind == "word" and tok.text == "not" and k + 1 < len(tokens):
            new = cut(tok.start, tokens[k + 1].start, "")
            yield new, "drop-not", inner, new
        elif tok.kind == "word" and tok.text in ("true", "false"):
            new = cut(tok.start, tok.end, "false" if tok.text == "true" else "true")
            yield new, "flip-bool", inner, new
        elif tok.kind == "word" and tok.text == "default" and k + 2 < len(tokens):
            arg_end = _argument_end(tokens, k + 1)
            if arg_end is not None and arg_end + 1 < len(tokens) and tokens[arg_end + 1].kind not in ("pipe", "rparen"):
                new = cut(tok.start, tokens[arg_end + 1].start, "")
                yield new, "drop-default", inner, new
        elif tok.kind == "pipe":
            stage_end = _stage_end(tokens, k)
            new = cut(tokens[k - 1].end if k else tok.start, tokens[stage_end].end, "")
            yield new, "drop-pipe", inner, new
        elif tok.kind == "string" and previous not in _NAME_TAKERS:
            body = tok.text[1:-1]
            new = cut(tok.start, tok.end, f'"{body}-{MUTATED}"' if body else f'"{MUTATED}"')
            yield new, "string", inner, new
        elif tok.kind == "raw":
            # An unanchored rule accepts what the anchored one rejects.
            body = tok.text[1:-1]
            # A list, not a set: a set's order changes with the hash seed, and with it which
            # mutants a seeded sample draws.
            looser = [body.removeprefix("^"), body.removesuffix("$")]
            for loose in [text for i, text in enumerate(looser) if text != body and text not in looser[:i]]:
                yield cut(tok.start, tok.end, f"`{loose}`"), "drop-anchor", tok.text, f"`{loose}`"
        elif tok.kind == "number" and previous not in _INDENTERS:
            value = float(tok.text) if "." in tok.text else int(tok.text)
            new = cut(tok.start, tok.end, str(value + 1))
            yield new, "number", inner, new


def _argument_end(tokens: list[_Token], k: int) -> int | None:
    """Index of the last token of the argument that starts at tokens[k] (a paren group or one token)."""
    if tokens[k].kind in ("pipe", "rparen"):
        return None
    if tokens[k].kind != "lparen":
        return k
    depth = 0
    for j in range(k, len(tokens)):
        depth += tokens[j].kind == "lparen"
        depth -= tokens[j].kind == "rparen"
        if depth == 0:
            return j
    return None


def _stage_end(tokens: list[_Token], pipe: int) -> int:
    """Index of the last token of the pipeline stage after tokens[pipe] (stops at `|` or an unmatched `)`)."""
    depth = 0
    end = pipe
    for j in range(pipe + 1, len(tokens)):
        kind = tokens[j].kind
        if kind == "lparen":
            depth += 1
        elif kind == "rparen":
            if depth == 0:
                break
            depth -= 1
        elif kind == "pipe" and depth == 0:
            break
        end = j
    return end
