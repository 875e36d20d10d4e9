import { seededRandom } from '../../server/core/random';
/**
 * Deterministic mixed Chinese and English text for the detector benchmark: prose with the digits prose
 * has (dates, times, amounts, versions, order numbers, percentages), and optionally planted identifiers
 * in real formats. A seeded generator makes every run scan the same bytes.
 */
const ZH = [
  '今天的会议讨论了第三季度的销售目标和市场策略。',
  '请在周五之前提交项目报告，并抄送给部门负责人。',
  '系统将于 2024-01-01 02:00 至 04:00 进行例行维护。',
  '本次更新修复了若干已知问题，版本号为 3.2.1。',
  '订单 2024010112345678 已发货，预计三天内送达。',
  '本月营收同比增长 12.5%，毛利率保持在 38% 左右。',
  '我们需要重新评估供应链的风险，尤其是物流环节。',
  '用户反馈界面加载较慢，建议优化首屏渲染时间。',
  '会议室预定时间为下午 3:30，请准时参加。',
  '合同金额为人民币 1,280,000.00 元，分三期支付。',
];
const EN = [
  'The quarterly review covered revenue, churn and the hiring plan for next year. ',
  'Please send the updated deck before Friday at 10:30 so legal can take a look. ',
  'Version 2.14.3 fixes the memory leak reported in ticket 48213. ',
  'Shipment 7731-2209 left the warehouse on 2024-03-15 and is on schedule. ',
  'Latency p99 dropped from 412 ms to 180 ms after the cache change. ',
  'We agreed to revisit the pricing model once the pilot with 25 customers ends. ',
  'The build on node 20.11 passes; node 18 fails one flaky test. ',
  'Note: the meeting moved to room 4B, see you there. ',
];
/** Identifiers in real formats (valid check digits, Luhn, octets). */
export const PLANTED = [
  { type: 'cn_id', text: '11010519491231002X' },
  { type: 'cn_id', text: '440306198507133412' },
  { type: 'phone', text: '13800138000' },
  { type: 'phone', text: '010-12345678' },
  { type: 'phone', text: '+14155552671' },
  { type: 'email', text: 'zhang.san@example.com.cn' },
  { type: 'bank_card', text: '6222020200012345670' },
  { type: 'bank_card', text: '4111 1111 1111 1111' },
  { type: 'passport', text: 'E12345678' },
  { type: 'ipv4', text: '192.168.10.23' },
  { type: 'ipv6', text: '2001:db8::8a2e:370:7334' },
] as const;

/**
 * About `bytes` of UTF-8 text. With `plantEvery` > 0, one identifier (cycling through PLANTED) follows
 * every that many sentences; `planted` counts them by type.
 */
export function makeCorpus(bytes: number, seed: number, plantEvery = 0): { text: string; bytes: number; planted: Record<string, number> } {
  const next = seededRandom(seed);
  const parts: string[] = [];
  const planted: Record<string, number> = {};
  let size = 0;
  let sentences = 0;
  let p = 0;
  while (size < bytes) {
    const s = next() < 0.5 ? ZH[Math.floor(next() * ZH.length)]! : EN[Math.floor(next() * EN.length)]!;
    parts.push(s);
    size += Buffer.byteLength(s);
    if (plantEvery > 0 && ++sentences % plantEvery === 0) {
      const id = PLANTED[p++ % PLANTED.length]!;
      const piece = ` 联系方式 ${id.text} 。`;
      parts.push(piece);
      size += Buffer.byteLength(piece);
      planted[id.type] = (planted[id.type] ?? 0) + 1;
    }
    if (next() < 0.05) {
      parts.push('\n');
      size += 1;
    }
  }
  const text = parts.join('');
  return { text, bytes: Buffer.byteLength(text), planted };
}
