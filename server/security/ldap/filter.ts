/**
 * RFC 4515: a value inside a search filter has `\ * ( )` and NUL written as `\xx`, so what someone typed
 * (`*)(uid=*`) stays one value and can never add terms to the filter.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[\\*()\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The template with every `{name}` replaced by the escaped value. */
export function fillFilter(template: string, name: string, value: string): string {
  return template.split(`{${name}}`).join(escapeFilterValue(value));
}

/** A DN compared as directories do for ours: case and spaces around `,` and `=` ignored. */
export function normalizeDn(dn: string): string {
  return dn
    .split(',')
    .map((rdn) =>
      rdn
        .split('=')
        .map((p) => p.trim())
        .join('='),
    )
    .join(',')
    .toLowerCase();
}
