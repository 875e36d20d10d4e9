import { describe, expect, it } from 'vitest';
import { ALERT_KINDS } from '../../../server/db/schema/alerts';
import { DEFAULT_RULES, KIND_INFO } from '../../../server/operations/alerts/kinds';
import { ALERT_KIND_LIST, formatDuration, KIND_UI } from './kinds';

describe('the UI’s copy of the alert kinds', () => {
  it('covers every kind with the server’s unit and duration meaning', () => {
    expect(ALERT_KIND_LIST).toEqual([...ALERT_KINDS]);
    for (const k of ALERT_KINDS) {
      expect(KIND_UI[k].duration, k).toBe(KIND_INFO[k].duration);
      expect(KIND_UI[k].unit, k).toBe(KIND_INFO[k].unit === 'restarts' ? '' : KIND_INFO[k].unit);
    }
    expect(DEFAULT_RULES.map((r) => r.kind).sort()).toEqual([...ALERT_KINDS].sort());
  });

  it('writes durations the way people say them', () => {
    expect([formatDuration(0), formatDuration(90), formatDuration(300), formatDuration(7200), formatDuration(720)]).toEqual(['0 s', '90 s', '5 min', '2 h', '12 min']);
  });
});
