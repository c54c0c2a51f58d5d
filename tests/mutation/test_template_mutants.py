"""The template mutator makes one meaningful change at a time, and never a template that cannot parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from mutation.template_mutants import Mutant, mutants_of

REPO = Path(__file__).resolve().parents[2]

ROLE = """{{- if .Values.rbac.create }}
# a comment
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "wandb-launch.roleName" . }}
  labels:
    {{- include "wandb-launch.labels" . | nindent 4 }}
rules:
  - apiGroups: [batch]
    resources: [jobs]
    verbs: [create, get]
automount: true
{{- end }}"""


def by_operator(mutants: list[Mutant], operator: str) -> list[Mutant]:
    return [m for m in mutants if m.operator == operator]


def changed_lines(mutant: Mutant, text: str) -> list[str]:
    return mutant.apply(text).split("\n")


def test_a_key_is_dropped_with_its_block_and_nothing_else() -> None:
    (labels,) = [m for m in by_operator(mutants_of("templates/role.yaml", ROLE), "drop-key") if m.before == "labels:"]
    assert (labels.line, labels.end_line) == (7, 8)
    assert labels.apply(ROLE) == ROLE.replace('  labels:\n    {{- include "wandb-launch.labels" . | nindent 4 }}\n', "")


def test_a_list_item_is_dropped_whole() -> None:
    (item,) = by_operator(mutants_of("templates/role.yaml", ROLE), "drop-item")
    assert (item.line, item.end_line) == (10, 12)


def test_block_lines_and_comments_are_never_dropped_alone() -> None:
    dropped = {m.line for m in mutants_of("templates/role.yaml", ROLE) if not m.replacement}
    assert 1 not in dropped and 14 not in dropped  # if / end: the template would not parse
    assert 2 not in dropped  # a comment changes nothing


def test_rbac_rules_lose_gain_and_swap_verbs_and_resources() -> None:
    lines = {m.after for m in mutants_of("templates/role.yaml", ROLE) if m.operator.startswith("rbac-")}
    assert {"verbs: [get]", "verbs: [create]", 'verbs: ["*"]', "verbs: [create, list]", "verbs: [update, get]"} <= lines
    assert {"resources: [cronjobs]", 'resources: ["*"]', '- apiGroups: [""]'} <= lines


def test_conditions_booleans_and_pipes() -> None:
    mutants = mutants_of("templates/role.yaml", ROLE)
    (negated,) = by_operator(mutants, "negate-if")
    assert changed_lines(negated, ROLE)[0] == "{{- if not (.Values.rbac.create) }}"
    (flipped,) = by_operator(mutants, "flip-bool")
    assert flipped.after == "automount: false"
    (nindent,) = by_operator(mutants, "drop-pipe")
    assert changed_lines(nindent, ROLE)[7] == '    {{- include "wandb-launch.labels" . }}'


def test_template_names_are_not_mutated_but_other_strings_are() -> None:
    text = '{{- printf "%s-config" (include "wandb-launch.fullname" .) | trunc 63 | default "x" -}}'
    afters = {m.after for m in mutants_of("templates/_helpers.tpl", text)}
    assert 'printf "%s-config-mutated" (include "wandb-launch.fullname" .) | trunc 63 | default "x"' in afters
    assert 'printf "%s-config" (include "wandb-launch.fullname" .) | trunc 64 | default "x"' in afters
    assert not any("fullname-mutated" in a for a in afters)


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("{{- if and .a .b }}", "{{- if or .a .b }}"),
        ("{{- if eq .a \"kaniko\" }}", "{{- if ne .a \"kaniko\" }}"),
        ("{{- if lt (int .a) -1 }}", "{{- if le (int .a) -1 }}"),
        ("{{- if not .a }}", "{{- if .a }}"),
        ("{{- default .Chart.Name .Values.nameOverride -}}", "{{- .Values.nameOverride -}}"),
        ("{{- if regexMatch `^gs://.*$` . }}", "{{- if regexMatch `gs://.*$` . }}"),
    ],
)
def test_action_operators(action: str, expected: str) -> None:
    assert expected in {m.apply(action) for m in mutants_of("templates/x.yaml", action)}


def test_every_chart_mutant_changes_its_file_and_has_a_unique_id() -> None:
    seen = set()
    for path in sorted(p for p in (REPO / "chart" / "templates").rglob("*") if p.is_file()):
        text = path.read_text()
        for mutant in mutants_of(str(path.relative_to(REPO / "chart")), text):
            assert mutant.apply(text) != text, mutant
            assert mutant.id not in seen
            seen.add(mutant.id)
    assert len(seen) > 500
