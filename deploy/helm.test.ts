import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { envSchema, parseEnv } from '../server/core/env';
import { chartDefaults, mergeValues, readYamlFile, renderChart, renderRelease, type RenderedDocument, type Values } from './testing/helm-render';
import { validateKubernetesObject } from './testing/k8s-validate';
import { ingressAllowed, type NetworkPolicyObject, type PodEndpoint } from './testing/network-policy';

const chartDir = path.resolve(import.meta.dirname, '../charts/enclave');
const NS = 'llm';
const RELEASE = { name: 'enclave', namespace: NS };
const production = readYamlFile(path.join(chartDir, 'ci/production-values.yaml'));
const schema = JSON.parse(fs.readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validateValues = ajv.compile(schema);

/** Environment variables the chart sets that Enclave itself does not read, each for a stated reason. */
const NOT_ENCLAVE_SETTINGS: Record<string, string> = {
  ENCLAVE_DB_PASSWORD: 'expanded by Kubernetes into DATABASE_URL',
  ENCLAVE_REDIS_PASSWORD: 'expanded by Kubernetes into REDIS_URL',
  NVIDIA_VISIBLE_DEVICES: 'read by the NVIDIA container runtime on agent pods',
  NODE_EXTRA_CA_CERTS: 'Node: a private CA for the gateway’s certificate (docs/install/helm.md)',
};
const ROLES = ['web', 'gateway', 'worker', 'agent'] as const;

type Obj = Record<string, any>;
const render = (values: Values = {}) => renderChart(chartDir, values, RELEASE);
const objects = (docs: RenderedDocument[], kind: string) => docs.map((d) => d.object as Obj).filter((o) => o.kind === kind);
const named = (docs: RenderedDocument[], kind: string, name: string) => {
  const found = objects(docs, kind).find((o) => o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
};
const subset = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
const workloads = (docs: RenderedDocument[]) => docs.map((d) => d.object as Obj).filter((o) => ['Deployment', 'DaemonSet', 'StatefulSet'].includes(o.kind));
const roleOf = (w: Obj) => w.spec.template.metadata.labels['app.kubernetes.io/component'] as string;
const enclaveWorkloads = (docs: RenderedDocument[]) => workloads(docs).filter((w) => (ROLES as readonly string[]).includes(roleOf(w)));

/** What a container's environment becomes once Kubernetes expands $(VAR) and the Secrets are read. */
function resolvedEnv(container: Obj): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of container.env as Obj[]) {
    let value: string;
    if (e.valueFrom?.secretKeyRef) value = fakeSecret(e.name as string);
    else if (e.valueFrom?.fieldRef) value = e.valueFrom.fieldRef.fieldPath === 'status.podIP' ? '10.1.2.3' : 'gpu-node-1';
    else value = String(e.value);
    // Kubernetes expands only variables defined earlier in the list; a later or unknown one stays literal.
    out[e.name] = value.replace(/\$\(([A-Z_0-9]+)\)/g, (m, name: string) => {
      if (!(name in out)) throw new Error(`${e.name} refers to $(${name}), not defined before it`);
      return out[name];
    });
  }
  return out;
}
function fakeSecret(name: string): string {
  if (name === 'DATABASE_URL' || name === 'DATABASE_OWNER_URL') return 'postgres://enclave:pw@db.internal:5432/enclave';
  if (name === 'REDIS_URL') return 'redis://:pw@redis.internal:6379';
  if (name === 'ENCLAVE_MASTER_KEY') return 'a'.repeat(64);
  return 'Secret0value';
}

function podEndpoint(docs: RenderedDocument[], workload: Obj): PodEndpoint {
  const ports: Record<string, number> = {};
  for (const c of workload.spec.template.spec.containers as Obj[]) for (const p of c.ports ?? []) if (p.name) ports[p.name] = p.containerPort;
  return { labels: workload.spec.template.metadata.labels, ports };
}

describe('values.schema.json', () => {
  it('accepts the chart defaults and the production values', () => {
    for (const [name, values] of [['values.yaml', chartDefaults(chartDir)], ['production', mergeValues(chartDefaults(chartDir), production)]] as const) {
      expect(validateValues(values), `${name}: ${ajv.errorsText(validateValues.errors)}`).toBe(true);
    }
  });

  it.each([
    ['a misspelt key', { gatway: { port: 3001 } }, 'must NOT have additional properties'],
    ['root as the user', { securityContext: { runAsUser: 0 } }, 'must be >= 1'],
    ['an active track that is not enabled', { gateway: { activeTrack: 'green' } }, 'must be equal to constant'],
    ['the dir store without a shared claim', { persistence: { data: { create: false } } }, 'must match a schema in anyOf'],
    ['S3 without a bucket', { artifacts: { backend: 's3' } }, 'must NOT have fewer than 3 characters'],
    ['an unknown PostgreSQL mode', { postgresql: { mode: 'embedded' } }, 'must be equal to one of the allowed values'],
  ])('refuses %s', (_, override, message) => {
    expect(validateValues(mergeValues(chartDefaults(chartDir), override))).toBe(false);
    expect(ajv.errorsText(validateValues.errors)).toContain(message);
  });
});

describe.each([
  ['default values', {} as Values],
  ['production values', production],
])('the chart rendered with %s', (label, values) => {
  const docs = render(values);
  const merged = mergeValues(chartDefaults(chartDir), values) as Obj;

  it('renders only objects valid against the Kubernetes (and Prometheus Operator) schemas, each named once', () => {
    expect(docs.length).toBeGreaterThan(10);
    for (const d of docs) validateKubernetesObject(d.object);
    const ids = docs.map((d) => `${d.object.kind}/${(d.object.metadata as Obj).name}`);
    expect(new Set(ids).size).toBe(ids.length);
    // Credentials come from Secrets that exist before the install: the chart creates none.
    expect(objects(docs, 'Secret')).toEqual([]);
  });

  it('runs every role, each container non-root with a read-only root file system and no capabilities', () => {
    const roles = enclaveWorkloads(docs).map(roleOf);
    for (const role of ROLES) expect(roles).toContain(role);
    for (const w of workloads(docs)) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext, w.metadata.name).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      const volumes = new Set((pod.volumes ?? []).map((v: Obj) => v.name));
      for (const template of w.spec.volumeClaimTemplates ?? []) volumes.add(template.metadata.name);
      for (const c of pod.containers as Obj[]) {
        expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
        expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
        // A read-only root leaves /tmp as the only scratch space: it must be a volume.
        expect(c.volumeMounts.map((m: Obj) => m.mountPath)).toContain('/tmp');
        for (const m of c.volumeMounts) expect(volumes.has(m.name), `${w.metadata.name}: volume ${m.name}`).toBe(true);
      }
    }
    for (const w of enclaveWorkloads(docs)) {
      const [c] = w.spec.template.spec.containers;
      expect(c.args).toEqual([roleOf(w)]);
      expect(c.volumeMounts.find((m: Obj) => m.mountPath === '/var/lib/enclave'), w.metadata.name).toBeDefined();
      expect(w.spec.template.spec.securityContext.runAsUser).toBe(merged.securityContext.runAsUser);
    }
  });

  it("sets only settings Enclave reads, with values Enclave's own configuration schema accepts", () => {
    const known = new Set(Object.keys(envSchema.shape));
    for (const w of enclaveWorkloads(docs)) {
      const [c] = w.spec.template.spec.containers;
      const names = (c.env as Obj[]).map((e) => e.name as string);
      expect(new Set(names).size, `${w.metadata.name}: a variable set twice`).toBe(names.length);
      for (const name of names) expect(known.has(name) || name in NOT_ENCLAVE_SETTINGS, `${w.metadata.name}: ${name} is not an Enclave setting`).toBe(true);
      const env = resolvedEnv(c);
      for (const required of ['DATABASE_URL', 'REDIS_URL', 'ENCLAVE_MASTER_KEY', 'ENCLAVE_DATA_DIR']) expect(env[required], `${w.metadata.name}: ${required}`).toBeTruthy();
      expect(() => parseEnv(env), w.metadata.name).not.toThrow();
      // Every folder Enclave writes is a mounted volume (the root file system is read-only), and the
      // files it reads are mounted.
      const mounts = (c.volumeMounts as Obj[]).map((m) => ({ path: m.mountPath as string, readOnly: m.readOnly === true }));
      const mountFor = (p: string) => mounts.find((m) => p === m.path || p.startsWith(m.path + '/'));
      for (const dir of ['ENCLAVE_DATA_DIR', 'ENCLAVE_AUDIT_ANCHOR_DIR', 'ENCLAVE_BACKUP_DIR', 'ENCLAVE_ARTIFACTS_DIR', 'ENCLAVE_AUDIT_ARCHIVE_DIR'])
        if (env[dir]) expect(mountFor(env[dir])?.readOnly, `${w.metadata.name}: ${dir}=${env[dir]} is not on a writable volume`).toBe(false);
      for (const file of ['ENCLAVE_TLS_CERT', 'ENCLAVE_TLS_KEY', 'NODE_EXTRA_CA_CERTS']) if (env[file]) expect(mountFor(env[file]), `${w.metadata.name}: ${file}`).toBeDefined();
      // Web pods reach the gateway through its Service (the active track).
      const gatewayUrl = new URL(env.ENCLAVE_GATEWAY_URL);
      expect(gatewayUrl.hostname).toBe('enclave-gateway');
      expect(Number(gatewayUrl.port)).toBe(named(docs, 'Service', 'enclave-gateway').spec.ports[0].port);
    }
  });

  it('spreads every replicated role across nodes and covers it with a PodDisruptionBudget', () => {
    const pdbs = objects(docs, 'PodDisruptionBudget');
    const replicated = enclaveWorkloads(docs).filter((w) => w.kind === 'Deployment');
    expect(replicated.map(roleOf).sort()).toEqual(expect.arrayContaining(['gateway', 'web', 'worker']));
    for (const w of replicated) {
      const podLabels = w.spec.template.metadata.labels;
      const anti = w.spec.template.spec.affinity.podAntiAffinity;
      const term = merged.antiAffinity === 'hard' ? anti.requiredDuringSchedulingIgnoredDuringExecution[0] : anti.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
      expect(term.topologyKey).toBe('kubernetes.io/hostname');
      expect(subset(term.labelSelector.matchLabels, podLabels), `${w.metadata.name}: anti-affinity must select its own pods`).toBe(true);
      expect(term.labelSelector.matchLabels['app.kubernetes.io/component']).toBe(roleOf(w));
      const covering = pdbs.filter((p) => subset(p.spec.selector.matchLabels, podLabels));
      expect(covering.length, `${w.metadata.name}: PodDisruptionBudgets`).toBe(1);
      // The budget counts this workload's pods only (a gateway track's budget does not count the other track).
      for (const other of workloads(docs).filter((o) => o !== w)) expect(subset(covering[0].spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
    }
    // The agent is a DaemonSet: one per GPU node by construction, and drains leave DaemonSet pods be.
    expect(named(docs, 'DaemonSet', 'enclave-agent').spec.template.spec.nodeSelector).toEqual(merged.agent.nodeSelector);
  });

  it('sends /v1 to exactly the active gateway track', () => {
    const service = named(docs, 'Service', 'enclave-gateway');
    const tracks = objects(docs, 'Deployment').filter((d) => roleOf(d) === 'gateway');
    const enabled = Object.entries(merged.gateway.tracks as Record<string, Obj>).filter(([, t]) => t.enabled).map(([n]) => n);
    expect(tracks.map((t) => t.metadata.labels['enclave.io/track']).sort()).toEqual(enabled.sort());
    const selected = tracks.filter((t) => subset(service.spec.selector, t.spec.template.metadata.labels));
    expect(selected.map((t) => t.metadata.name)).toEqual([`enclave-gateway-${merged.gateway.activeTrack}`]);
    for (const t of tracks) {
      const tag = (merged.gateway.tracks[t.metadata.labels['enclave.io/track']].tag as string) || merged.image.tag;
      expect(t.spec.template.spec.containers[0].image).toBe(`${merged.image.repository}:${tag}`);
    }
  });

  it('autoscales web and gateway when asked, leaving their replica counts to the autoscaler', () => {
    const hpas = objects(docs, 'HorizontalPodAutoscaler');
    const targets = hpas.map((h) => h.spec.scaleTargetRef.name).sort();
    const expected = [...(merged.web.hpa.enabled ? ['enclave-web'] : []), ...(merged.gateway.hpa.enabled ? objects(docs, 'Deployment').filter((d) => roleOf(d) === 'gateway').map((d) => d.metadata.name) : [])].sort();
    expect(targets).toEqual(expected);
    for (const h of hpas) {
      const target = named(docs, 'Deployment', h.spec.scaleTargetRef.name);
      expect(target.spec.replicas, `${target.metadata.name}: replicas fight the autoscaler`).toBeUndefined();
      expect(h.spec.minReplicas).toBeGreaterThanOrEqual(2);
    }
    if (label === 'production values') expect(hpas.length).toBe(3);
  });

  it('lets only web and gateway be reached from outside; engines only from the gateway; the stores only from Enclave', () => {
    const policies = objects(docs, 'NetworkPolicy') as NetworkPolicyObject[];
    const pod = (role: string) => podEndpoint(docs, workloads(docs).find((w) => roleOf(w) === role)!);
    const allowed = (from: PodEndpoint, to: string, port: number) => ingressAllowed(policies, from, pod(to), port, NS);
    // Every pod of the release is under some policy.
    for (const w of workloads(docs)) expect(policies.some((p) => subset(p.spec.podSelector.matchLabels ?? {}, w.spec.template.metadata.labels)), w.metadata.name).toBe(true);

    const outside: PodEndpoint = merged.networkPolicy.ingressFrom.length ? { labels: {}, namespace: 'ingress-nginx' } : { labels: { app: 'anything' }, namespace: 'elsewhere' };
    const stranger: PodEndpoint = { labels: { app: 'anything' }, namespace: 'elsewhere' };
    expect(allowed(outside, 'web', merged.web.port)).toBe(true);
    expect(allowed(outside, 'gateway', merged.gateway.port)).toBe(true);
    for (const closed of ['worker', 'agent']) expect(allowed(outside, closed, 40_000)).toBe(false);
    if (merged.networkPolicy.ingressFrom.length) {
      expect(allowed(stranger, 'web', merged.web.port)).toBe(false);
      expect(allowed(stranger, 'gateway', merged.gateway.port)).toBe(false);
      const prometheus: PodEndpoint = { labels: {}, namespace: 'monitoring' };
      expect(allowed(prometheus, 'web', merged.web.port)).toBe(true);
      expect(allowed(prometheus, 'gateway', merged.gateway.port)).toBe(true);
    }
    // The web role calls the gateway; engines (any port: the agent picks them at start) only from gateways and agents.
    expect(allowed(pod('web'), 'gateway', merged.gateway.port)).toBe(true);
    expect(allowed(pod('gateway'), 'agent', 41_234)).toBe(true);
    expect(allowed(pod('agent'), 'agent', 29_500)).toBe(true);
    for (const role of ['web', 'worker']) expect(allowed(pod(role), 'agent', 41_234)).toBe(false);
    for (const role of ['web', 'gateway', 'worker', 'agent']) expect(allowed(pod(role), 'worker', 3000)).toBe(false);
    if (merged.tls.existingSecret) {
      // Remote GPU hosts reach the agents' mTLS API (their certificate is the gate).
      const agentPort = pod('web').ports!['agent-mtls'];
      expect(agentPort).toBe(merged.web.agentPort);
      expect(allowed(stranger, 'web', agentPort)).toBe(true);
      expect(named(docs, 'Service', 'enclave-web').spec.ports.map((p: Obj) => p.name)).toContain('agent-mtls');
    }
    for (const [store, port] of [['postgresql', 5432], ['redis', 6379]] as const) {
      if (merged[store].mode !== 'bundled') {
        expect(workloads(docs).find((w) => roleOf(w) === store)).toBeUndefined();
        continue;
      }
      for (const role of ROLES) expect(allowed(pod(role), store, port), `${role} → ${store}`).toBe(true);
      expect(allowed(outside, store, port)).toBe(false);
      expect(allowed(stranger, store, port)).toBe(false);
    }
  });

  it('shares the data directory between web, worker and agent pods (or stores artifacts in S3)', () => {
    const claimOf = (role: string) => workloads(docs).find((w) => roleOf(w) === role)!.spec.template.spec.volumes.find((v: Obj) => v.name === 'data').persistentVolumeClaim?.claimName;
    const claim = merged.persistence.data.existingClaim || 'enclave-data';
    for (const role of ['web', 'worker', 'agent']) expect(claimOf(role), role).toBe(claim);
    if (!merged.persistence.data.existingClaim) expect(named(docs, 'PersistentVolumeClaim', 'enclave-data').spec.accessModes).toEqual(['ReadWriteMany']);
    const env = resolvedEnv(named(docs, 'Deployment', 'enclave-worker').spec.template.spec.containers[0]);
    expect(env.ENCLAVE_ARTIFACTS).toBe(merged.artifacts.backend);
    if (merged.artifacts.backend === 's3') expect(env).toMatchObject({ ENCLAVE_S3_BUCKET: merged.artifacts.s3.bucket, ENCLAVE_S3_ENDPOINT: merged.artifacts.s3.endpoint });
  });

  it('exposes /metrics to a ServiceMonitor when asked', () => {
    const monitors = objects(docs, 'ServiceMonitor');
    expect(monitors.length).toBe(merged.serviceMonitor.enabled ? 1 : 0);
    for (const m of monitors) {
      const selected = objects(docs, 'Service').filter((s) => subset(m.spec.selector.matchLabels, s.metadata.labels));
      expect(selected.map((s) => s.metadata.name).sort()).toEqual(['enclave-gateway', 'enclave-web']);
      for (const s of selected) expect(s.spec.ports.map((p: Obj) => p.name)).toContain(m.spec.endpoints[0].port);
      expect(m.spec.endpoints[0].path).toBe('/metrics');
      expect(m.spec.namespaceSelector.matchNames).toEqual([NS]);
    }
  });

  it('tells the installer where the admin password is and how to reach the UI', () => {
    const notes = renderRelease(chartDir, values, RELEASE).notes!;
    expect(notes).toContain(`logs deploy/enclave-web`);
    expect(notes).toContain(merged.ingress.enabled ? `https://${merged.ingress.host}/` : 'port-forward svc/enclave-web');
    named(docs, 'Deployment', 'enclave-web');
  });

  it('routes the ingress to Services and ports that exist', () => {
    for (const ing of objects(docs, 'Ingress')) {
      for (const p of ing.spec.rules[0].http.paths) {
        const svc = named(docs, 'Service', p.backend.service.name);
        expect(svc.spec.ports.map((x: Obj) => x.name)).toContain(p.backend.service.port.name);
      }
    }
  });
});

describe('the chart refuses values that could not work', () => {
  it.each([
    [{ gateway: { activeTrack: 'green' } }, 'gateway.activeTrack is green but gateway.tracks.green.enabled is false'],
    [{ persistence: { data: { create: false } } }, 'artifacts.backend=dir needs the data directory shared'],
    [{ artifacts: { backend: 's3' } }, 'artifacts.backend=s3 needs artifacts.s3.bucket'],
    [{ redis: { mode: 'external' } }, 'redis.mode=external needs redis.external.url'],
  ])('%j', (values, message) => {
    expect(() => render(values)).toThrow(message);
  });

  it('flips the gateway Service to green while blue keeps running', () => {
    const docs = render({ gateway: { activeTrack: 'green', tracks: { green: { enabled: true, tag: '0.2.0' } } } });
    expect(named(docs, 'Service', 'enclave-gateway').spec.selector['enclave.io/track']).toBe('green');
    expect(objects(docs, 'Deployment').filter((d) => roleOf(d) === 'gateway').map((d) => d.metadata.name).sort()).toEqual(['enclave-gateway-blue', 'enclave-gateway-green']);
  });
});

const helm = (() => {
  try {
    execFileSync('helm', ['version', '--short'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!helm) console.log('helm is not on PATH: `helm lint` and `helm template` are skipped (the chart is rendered by deploy/testing/helm-render.ts instead)');

describe.skipIf(!helm)('with helm on PATH', () => {
  it('helm lint passes and helm template renders what the renderer here renders', () => {
    const prod = path.join(chartDir, 'ci/production-values.yaml');
    execFileSync('helm', ['lint', '--strict', chartDir], { stdio: 'pipe' });
    execFileSync('helm', ['lint', '--strict', chartDir, '-f', prod], { stdio: 'pipe' });
    for (const values of [{}, production]) {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-helm-')), 'values.yaml');
      fs.writeFileSync(file, JSON.stringify(values));
      const out = execFileSync('helm', ['template', RELEASE.name, chartDir, '--namespace', NS, '-f', file], { encoding: 'utf8' });
      const kinds = (text: string) => [...text.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]).sort();
      const ours = render(values).map((d) => String(d.object.kind)).sort();
      expect(kinds(out)).toEqual(ours);
    }
  });
});
