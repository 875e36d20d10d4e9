/** UI strings of the failure-rate and response-time view on /latency: English, and Simplified Chinese. */
export const serviceQualityEn = {
  'quality.title': 'Failure rate and response time per model and day',
  'quality.hint': 'From the daily usage rollup (request logs, every 10 minutes). Failures are answers with status 400 or more; percentiles are read from latency buckets (within a factor of two).',
  'quality.days': 'Days',
  'quality.lastDays': 'Last {n} days',
  'quality.failureRate': 'Failure rate',
  'quality.p95': 'End-to-end p95 (ms)',
  'quality.meanTtft': 'Mean time to first token (ms)',
  'quality.empty': 'No requests in this range.',
  'quality.model': 'Model',
  'quality.requests': 'Requests',
  'quality.errors': 'Failures',
  'quality.p50': 'p50 (ms)',
};

export const serviceQualityZh: Record<keyof typeof serviceQualityEn, string> = {
  'quality.title': '各模型每日失败率与响应时间',
  'quality.hint': '来自每日用量汇总（请求日志，每 10 分钟更新）。失败指状态码 400 及以上的响应；百分位数由延迟分桶估算（误差在两倍以内）。',
  'quality.days': '天数',
  'quality.lastDays': '最近 {n} 天',
  'quality.failureRate': '失败率',
  'quality.p95': '端到端 p95（毫秒）',
  'quality.meanTtft': '平均首个 token 时间（毫秒）',
  'quality.empty': '该时间范围内没有请求。',
  'quality.model': '模型',
  'quality.requests': '请求数',
  'quality.errors': '失败数',
  'quality.p50': 'p50（毫秒）',
};
