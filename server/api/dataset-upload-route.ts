import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiDeps } from './context';

/** Answers its own paths and resolves false for any other. */
export async function handleDatasetUpload(_deps: ApiDeps, _req: IncomingMessage, _res: ServerResponse, _url: URL): Promise<boolean> {
  return false;
}
