import { Ajv } from 'ajv';
import { DaemonSet, Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, PersistentVolumeClaim, Service } from 'kubernetes-models/v1';
import { prometheusRuleSchema, serviceMonitorSchema } from './monitoring-schemas';

/**
 * Validates a rendered object against the Kubernetes OpenAPI schemas (kubernetes-models). The Prometheus
 * Operator's kinds are not in kubernetes-models: they are checked against monitoring-schemas.ts, a
 * hand-written subset of the operator's CRD schemas (the fields this chart writes, no others allowed).
 */

type Validator = (obj: Record<string, unknown>) => void;

const model =
  <T extends { validate(): void }>(Model: new (o: never) => T): Validator =>
  (obj) =>
    new Model(obj as never).validate();

const ajv = new Ajv({ allErrors: true, strict: true });
const schemaValidator = (schema: object): Validator => {
  const check = ajv.compile(schema);
  return (obj) => {
    if (!check(obj)) throw new Error(ajv.errorsText(check.errors));
  };
};

const VALIDATORS: Record<string, Validator> = {
  'apps/v1/Deployment': model(Deployment),
  'apps/v1/DaemonSet': model(DaemonSet),
  'apps/v1/StatefulSet': model(StatefulSet),
  'v1/Service': model(Service),
  'v1/ConfigMap': model(ConfigMap),
  'v1/PersistentVolumeClaim': model(PersistentVolumeClaim),
  'policy/v1/PodDisruptionBudget': model(PodDisruptionBudget),
  'autoscaling/v2/HorizontalPodAutoscaler': model(HorizontalPodAutoscaler),
  'networking.k8s.io/v1/NetworkPolicy': model(NetworkPolicy),
  'networking.k8s.io/v1/Ingress': model(Ingress),
  'monitoring.coreos.com/v1/ServiceMonitor': schemaValidator(serviceMonitorSchema),
  'monitoring.coreos.com/v1/PrometheusRule': schemaValidator(prometheusRuleSchema),
};

/** Throws with the object's kind and name when it is not a valid object of its kind (or of a kind not known here). */
export function validateKubernetesObject(obj: Record<string, unknown>): void {
  const kind = `${String(obj.apiVersion)}/${String(obj.kind)}`;
  const name = (obj.metadata as { name?: string } | undefined)?.name;
  const validator = VALIDATORS[kind];
  if (!validator) throw new Error(`${kind} ${name}: no schema for this kind here; add one before the chart uses it`);
  try {
    validator(obj);
  } catch (e) {
    throw new Error(`${kind} ${name}: ${(e as Error).message}`);
  }
}
