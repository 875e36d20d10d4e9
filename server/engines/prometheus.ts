/**
 * Prometheus text as engines print it, read by name: each sample's value kept per metric name (one per
 * label set), for the metric names that start with `prefix` ('vllm:', 'tgi_', 'sglang:').
 */
export function prometheusSamples(text: string, prefix: string): Map<string, number[]> {
  const samples = new Map<string, number[]>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith(prefix)) continue;
    // name{labels} value [timestamp]; label values may hold spaces, so split at the closing brace.
    const brace = line.indexOf('{');
    const nameEnd = brace === -1 ? line.indexOf(' ') : brace;
    if (nameEnd === -1) continue;
    const name = line.slice(0, nameEnd);
    const rest = brace === -1 ? line.slice(nameEnd) : line.slice(line.lastIndexOf('}') + 1);
    const value = Number(rest.trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    let list = samples.get(name);
    if (!list) samples.set(name, (list = []));
    list.push(value);
  }
  return samples;
}

/** Sums a metric's samples over all its label sets (one per engine core or TP rank). */
export function sumSamples(samples: Map<string, number[]>, name: string): number | undefined {
  const values = samples.get(name);
  return values?.length ? values.reduce((a, b) => a + b, 0) : undefined;
}

/** Averages a metric's samples (a fraction reported once per rank is still one fraction). */
export function meanSamples(samples: Map<string, number[]>, name: string): number | undefined {
  const sum = sumSamples(samples, name);
  return sum === undefined ? undefined : sum / samples.get(name)!.length;
}

/** GETs `${baseUrl}/metrics` as text; throws on a network error or a non-200 answer. */
export async function fetchMetricsText(baseUrl: string, signal: AbortSignal = AbortSignal.timeout(5_000)): Promise<string> {
  const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/metrics`, { signal });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`GET /metrics answered ${res.status}`);
  }
  return res.text();
}
