import { describe, expect, it } from 'vitest';
import { createExecutor } from './execute';
import { parseTemplate } from './parse';

/** Renders `source` (with its own defines) against `data`, as Helm renders one template file. */
function render(source: string, data: unknown = {}): string {
  const { nodes, defines } = parseTemplate(source, 'test.yaml');
  return createExecutor(defines, {}).render(nodes, data, 'test.yaml');
}

describe('the Go-template subset, with text/template semantics', () => {
  it('trims whitespace at {{- and -}}, drops comments, keeps raw strings', () => {
    expect(render('a  \n  {{- "x" -}}  \n b')).toBe('axb');
    expect(render('a {{/* gone */}}b')).toBe('a b');
    expect(render('x{{- /* gone */ -}}\n  y')).toBe('xy');
    expect(render('{{`{{ $value | humanize }}`}}')).toBe('{{ $value | humanize }}');
    expect(render('{{ "a\\"b" }}')).toBe('a"b');
  });

  it('evaluates fields, variables, $ and pipelines', () => {
    const data = { Values: { a: { b: 3, s: 'x' }, list: [1, 2], empty: '' } };
    expect(render('{{ .Values.a.b }}', data)).toBe('3');
    expect(render('{{ $x := .Values.a }}{{ $x.s }}', data)).toBe('x');
    expect(render('{{ range .Values.list }}{{ $.Values.a.s }}{{ . }}{{ end }}', data)).toBe('x1x2');
    expect(render('{{ .Values.a.s | quote }}', data)).toBe('"x"');
    expect(render('{{ (dict "k" .Values.a).k.b }}', data)).toBe('3');
    expect(render('{{ .Values.empty | default "d" }}', data)).toBe('d');
  });

  it('branches like Go: empty values are false; else if; with rebinds the dot', () => {
    const t = '{{ if .a }}A{{ else if .b }}B{{ else }}C{{ end }}';
    expect(render(t, { a: 1 })).toBe('A');
    expect(render(t, { a: 0, b: 'x' })).toBe('B');
    expect(render(t, { a: [], b: {} })).toBe('C');
    expect(render('{{ with .m }}{{ .k }}{{ else }}none{{ end }}', { m: { k: 'v' } })).toBe('v');
    expect(render('{{ with .m }}{{ .k }}{{ else }}none{{ end }}', { m: {} })).toBe('none');
    expect(render('{{ if and .a (not .b) }}y{{ end }}{{ if or .b .c }}z{{ end }}', { a: true, b: false, c: 'x' })).toBe('yz');
    expect(render('{{ if eq .s "a" "b" }}in{{ end }}{{ if ne .s "a" }}out{{ end }}', { s: 'b' })).toBe('inout');
  });

  it('ranges over lists with index and over maps in sorted key order, with else for empty', () => {
    expect(render('{{ range $i, $v := .l }}{{ $i }}={{ $v }};{{ end }}', { l: ['a', 'b'] })).toBe('0=a;1=b;');
    expect(render('{{ range $k, $v := .m }}{{ $k }}={{ $v }};{{ end }}', { m: { z: 1, a: 2 } })).toBe('a=2;z=1;');
    expect(render('{{ range .l }}x{{ else }}empty{{ end }}', { l: [] })).toBe('empty');
  });

  it('includes defined templates and indents them; toYaml writes sorted YAML that Kubernetes reads the same', () => {
    const src = '{{- define "t" -}}\nk: {{ .v }}\n{{- end -}}\nroot:{{- include "t" . | nindent 2 }}';
    expect(render(src, { v: 1 })).toBe('root:\n  k: 1');
    expect(render('{{ toYaml .m }}', { m: { b: 'yes', a: [1, 'on'], c: {} } })).toBe('a:\n  - 1\n  - "on"\nb: "yes"\nc: {}');
    expect(render('{{ printf "%s-%d" .n 3 }}|{{ ternary "t" "f" .b }}|{{ index .m "k" }}', { n: 'x', b: true, m: { k: 'v' } })).toBe('x-3|t|v');
    expect(render('{{ toYaml (concat .a .b) }}', { a: [1], b: [2] })).toBe('- 1\n- 2');
  });

  it.each([
    ['{{ .n }}', { n: null }, 'prints a missing value'],
    ['{{ .missing }}', {}, 'map has no entry for key "missing"'],
    ['{{ if .a.enable }}x{{ end }}', { a: { enabled: true } }, 'map has no entry for key "enable" (.a.enable)'],
    ['{{ .a.b.c }}', { a: { b: null } }, 'nil pointer evaluating .a.b.c'],
    ['{{ .m }}', { m: { k: 1 } }, 'prints a map'],
    ['{{ upper "x" }}', {}, 'function "upper" is not supported'],
    ['{{ template "x" . }}', {}, '"template" is not supported'],
    ['{{ if .a }}x{{ else with .b }}y{{ end }}', {}, '"else with .b" is not supported'],
    ['{{ if .a }}x', {}, 'not closed'],
    ['{{ end }}', {}, 'without an open block'],
    ['{{ $undeclared }}', {}, 'undefined variable $undeclared'],
    ['{{ include "nope" . }}', {}, 'no template named "nope"'],
    ['{{ required "give x" .x }}', { x: null }, 'give x'],
    ['{{ fail "stop here" }}', {}, 'stop here'],
    ['{{ .a', {}, 'unclosed action'],
    ['{{ .a ; }}', {}, 'unsupported character'],
  ])('fails loudly on %s', (source, data, message) => {
    expect(() => render(source, data)).toThrow(message);
  });
});
