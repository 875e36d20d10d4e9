'use client';

import { useI18n } from '../../i18n/provider';

interface Withheld {
  passages: number;
  levels: string[];
  model: string;
  maxLevel: string;
}

function isWithheld(v: unknown): v is Withheld {
  const w = v as Withheld | null;
  return !!w && typeof w.passages === 'number' && w.passages > 0 && Array.isArray(w.levels) && typeof w.model === 'string' && typeof w.maxLevel === 'string';
}

/**
 * Under a reply whose knowledge-base passages were held back by data classification (metadata.withheld:
 * a count and level names, never the passages): how many, from what level, and what the model may receive.
 */
export function KnowledgeWithheld({ withheld }: { withheld: unknown }) {
  const { t } = useI18n();
  if (!isWithheld(withheld)) return null;
  const params = { count: String(withheld.passages), levels: withheld.levels.join(t('knowledge.withheld.or')), model: withheld.model, maxLevel: withheld.maxLevel };
  return (
    <div className="knowledge-withheld muted" role="note" data-testid="knowledge-withheld" style={{ flexBasis: '100%', order: -1 }}>
      {t(withheld.passages === 1 ? 'knowledge.withheld.one' : 'knowledge.withheld.other', params)}
    </div>
  );
}
