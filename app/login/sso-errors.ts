import { REFUSALS, type Refusal } from '../../server/security/oidc/refusal-codes';
import type { signInEn } from '../i18n/areas/sign-in';

/** The message key for ?error=<code>, or null for no code (or one this page does not know: nothing is shown). */
export function ssoErrorKey(code: string | null): `login.oidc.${Refusal}` & keyof typeof signInEn | null {
  return code && (REFUSALS as readonly string[]).includes(code) ? (`login.oidc.${code}` as `login.oidc.${Refusal}`) : null;
}
