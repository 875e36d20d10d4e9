/**
 * The Prometheus Operator's ServiceMonitor and PrometheusRule (monitoring.coreos.com/v1), which
 * kubernetes-models does not carry: the subset of the operator's CRD schemas for the fields this chart
 * writes, with every other field refused so a misspelt one fails the test instead of being ignored by the
 * API server. Field names and types follow the operator's CRDs (prometheus-operator v0.7x).
 */

const labels = { type: 'object', additionalProperties: { type: 'string' } } as const;
const metadata = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' }, namespace: { type: 'string' }, labels, annotations: labels },
} as const;
const duration = { type: 'string', pattern: '^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' } as const;
const secretKeySelector = { type: 'object', required: ['key'], additionalProperties: false, properties: { name: { type: 'string' }, key: { type: 'string' }, optional: { type: 'boolean' } } } as const;
const secretOrConfigMap = { type: 'object', additionalProperties: false, properties: { secret: secretKeySelector, configMap: secretKeySelector } } as const;

export const serviceMonitorSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'ServiceMonitor' },
    metadata,
    spec: {
      type: 'object',
      required: ['selector', 'endpoints'],
      additionalProperties: false,
      properties: {
        selector: { type: 'object', additionalProperties: false, properties: { matchLabels: labels } },
        namespaceSelector: { type: 'object', additionalProperties: false, properties: { any: { type: 'boolean' }, matchNames: { type: 'array', items: { type: 'string' } } } },
        endpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            properties: {
              port: { type: 'string' },
              path: { type: 'string', pattern: '^/' },
              scheme: { enum: ['http', 'https'] },
              interval: duration,
              scrapeTimeout: duration,
              tlsConfig: {
                type: 'object',
                additionalProperties: false,
                properties: { ca: secretOrConfigMap, cert: secretOrConfigMap, keySecret: secretKeySelector, serverName: { type: 'string' }, insecureSkipVerify: { type: 'boolean' } },
              },
            },
          },
        },
      },
    },
  },
} as const;

export const prometheusRuleSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PrometheusRule' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      properties: {
        groups: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'rules'],
            additionalProperties: false,
            properties: {
              name: { type: 'string', minLength: 1 },
              interval: duration,
              rules: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['expr'],
                  additionalProperties: false,
                  properties: {
                    alert: { type: 'string', pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$' },
                    record: { type: 'string' },
                    expr: { type: 'string', minLength: 1 },
                    for: duration,
                    labels,
                    annotations: labels,
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;
