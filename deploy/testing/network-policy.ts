/**
 * Kubernetes' NetworkPolicy ingress semantics, enough to ask of a rendered chart "may pod A reach pod B
 * on port P": a pod no policy selects admits everything; once selected, only what some rule of some
 * selecting policy allows. Peers are pods of the release's namespace (podSelector) or of other namespaces
 * (namespaceSelector, matched on the kubernetes.io/metadata.name label); ipBlock peers are not used here.
 */

type Labels = Record<string, string>;

export interface PodEndpoint {
  labels: Labels;
  /** The pod's namespace; undefined: the release's own. */
  namespace?: string;
  /** Named container ports (name → number), to resolve a policy's named ports. */
  ports?: Record<string, number>;
}

interface Selector {
  matchLabels?: Labels;
  matchExpressions?: unknown[];
}
interface Peer {
  podSelector?: Selector;
  namespaceSelector?: Selector;
  ipBlock?: unknown;
}
interface Rule {
  from?: Peer[];
  ports?: { port?: number | string; protocol?: string }[];
}
export interface NetworkPolicyObject {
  spec: { podSelector: Selector; policyTypes?: string[]; ingress?: Rule[] };
}

function selects(selector: Selector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  if (selector.matchExpressions?.length) throw new Error('matchExpressions are not evaluated here');
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
}

function peerMatches(peer: Peer, from: PodEndpoint, releaseNamespace: string): boolean {
  if (peer.ipBlock) throw new Error('ipBlock peers are not evaluated here');
  const namespace = from.namespace ?? releaseNamespace;
  if (peer.namespaceSelector) {
    if (!selects(peer.namespaceSelector, { 'kubernetes.io/metadata.name': namespace })) return false;
    return selects(peer.podSelector, from.labels);
  }
  // A podSelector alone means pods of the policy's own namespace.
  return namespace === releaseNamespace && selects(peer.podSelector, from.labels);
}

function portMatches(rule: Rule, to: PodEndpoint, port: number): boolean {
  if (!rule.ports?.length) return true;
  return rule.ports.some((p) => {
    if ((p.protocol ?? 'TCP') !== 'TCP') return false;
    if (p.port === undefined) return true;
    if (typeof p.port === 'number') return p.port === port;
    return to.ports?.[p.port] === port;
  });
}

export function ingressAllowed(policies: NetworkPolicyObject[], from: PodEndpoint, to: PodEndpoint, port: number, releaseNamespace: string): boolean {
  const selecting = policies.filter((p) => (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') && selects(p.spec.podSelector, to.labels));
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some((rule) => portMatches(rule, to, port) && (!rule.from?.length || rule.from.some((peer) => peerMatches(peer, from, releaseNamespace)))),
  );
}
