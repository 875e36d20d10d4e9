import fs from 'node:fs';

/** One npm package of a CycloneDX SBOM (as `npm sbom` writes it), with its declared licence. */
export interface SbomComponent {
  name: string;
  version: string;
  /** An SPDX expression, or null when the component declares none. */
  licence: string | null;
  npm: boolean;
}

type CdxComponent = {
  name?: string;
  group?: string;
  version?: string;
  purl?: string;
  licenses?: { expression?: string; license?: { id?: string; name?: string } }[];
  components?: CdxComponent[];
};

/** The package name a purl names (`pkg:npm/%40scope/name@1.0.0` → `@scope/name`), when it is an npm purl. */
function npmName(purl: string | undefined): string | undefined {
  const m = /^pkg:npm\/(.+)@[^@]+$/.exec(purl ?? '');
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export function readSbom(file: string): SbomComponent[] {
  let doc: { bomFormat?: string; components?: CdxComponent[] };
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read a JSON SBOM (${(e as Error).message})`);
  }
  if (doc.bomFormat !== 'CycloneDX' || !Array.isArray(doc.components)) throw new Error(`${file}: not a CycloneDX JSON SBOM (bomFormat "CycloneDX" with components)`);
  const out: SbomComponent[] = [];
  // Components may nest (a tool's SBOM of an image lists packages under the application).
  const walk = (list: CdxComponent[]) => {
    for (const c of list) {
      const fromPurl = npmName(c.purl);
      const name = fromPurl ?? (c.group ? `${c.group}/${c.name}` : c.name);
      const licences = (c.licenses ?? []).map((l) => l.expression ?? l.license?.id ?? l.license?.name).filter((l): l is string => !!l);
      if (name && c.version) out.push({ name, version: c.version, licence: licences.length ? licences.map((l) => (licences.length > 1 && /\s/.test(l) ? `(${l})` : l)).join(' AND ') : null, npm: fromPurl !== undefined });
      if (c.components) walk(c.components);
    }
  };
  walk(doc.components);
  return out;
}
