import { execa, type ResultPromise } from 'execa';
import { freePort } from '../../core/net/free-port';
import { until } from '../../testing/until';
import type { EngineCommand, EngineDriver, LaunchRequest } from '../types';

/**
 * Runs a driver's real command line against an engine double (the driver's own executable replaced by
 * the double's), and watches its readiness: what the lifecycle tests of each engine share.
 */
export function doubleRunner(driver: EngineDriver, build: (launch: LaunchRequest) => EngineCommand) {
  const running: ResultPromise[] = [];
  return {
    async start(launch: (port: number) => LaunchRequest, env: Record<string, string> = {}) {
      const port = await freePort();
      const cmd = build(launch(port));
      const child = execa(cmd.file, cmd.args, { env: { ...cmd.env, ...env }, reject: false, all: true });
      running.push(child);
      return { url: `http://127.0.0.1:${port}`, child, cmd };
    },
    /** The driver's readiness states, each once, until it reads `want`. */
    async statesUntil(url: string, want: string, name: string, apiKey: string) {
      const seen: string[] = [];
      await until(
        want,
        async () => {
          const r = await driver.probeReady(url, name, undefined, apiKey);
          if (seen.at(-1) !== r) seen.push(r);
          return r === want;
        },
        15_000,
      ).catch(() => {
        throw new Error(`never ${want}; saw ${seen.join(' → ')}`);
      });
      return seen;
    },
    async stopAll() {
      for (const p of running.splice(0)) {
        p.kill('SIGKILL');
        await p.catch(() => {});
      }
    },
  };
}
