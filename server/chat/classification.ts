import type { Db } from '../db/client';
import { errorMessage, log } from '../core/log';
import { countFindings, findSensitive } from '../security/pii/detect';
import { levelOf, levelOfFindings, loadProtectionSettings, raiseLevelAudited, type Level } from '../security/classification';

/**
 * A chat turn's side of data protection: the conversation's declared level (what the gateway holds the
 * turn to, on the trusted internal path) and what the user's new message holds, scanned before the turn
 * is sent. `record()` raises the conversation's level once the message is stored: types and counts only.
 */
export async function conversationProtection(db: Db, userId: string, conversationId: string, newContent: string) {
  const [current, settings] = await Promise.all([levelOf(db, 'conversation', conversationId), newContent ? loadProtectionSettings(db) : null]);
  const findings = settings ? findSensitive(newContent, settings.rules) : [];
  const counts = countFindings(findings);
  const level: Level = settings && findings.length > 0 ? levelOfFindings(counts, settings.levels) : 0;
  return {
    declaredLevel: current.declaredLevel,
    counts,
    async record() {
      if (findings.length === 0) return;
      try {
        await raiseLevelAudited(db, userId, 'conversation', conversationId, level, counts);
      } catch (err) {
        // The message is stored; its finding counts are not. Logged without content.
        log.error('chat: recording the findings of a message failed', { conversationId, error: errorMessage(err) });
      }
    },
  };
}
