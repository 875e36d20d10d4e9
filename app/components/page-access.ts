/**
 * Which roles may open which settings and admin pages: the server's own rules (server/roles/page-rules.ts),
 * so the side navigation shows a link exactly where the guard lets the page open, and the frame
 * (manage-shell.tsx) says "you do not have access" rather than draw an empty page of refused requests.
 */
export { pageAllowed } from '../../server/roles/page-rules';
