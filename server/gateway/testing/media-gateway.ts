import { Redis } from 'ioredis';
import { makeDeployment } from '../../testing/factories';
import { startOpenAIDouble, type OpenAIDouble } from '../../testing/openai-double';
import { testRedisPrefix } from '../../testing/database';
import { startGatewayHarness, type GatewayHarness } from './harness';

/**
 * The gateway of the image tests (media.test.ts, files.test.ts): a real gateway with Redis (quotas read
 * every 100 ms) and small image limits, the OpenAI double playing a vLLM vision model (`vision`) and a
 * text-only one (`textOnly`).
 */
export interface MediaGateway {
  h: GatewayHarness;
  redis: Redis;
  double: OpenAIDouble;
  prefix: string;
  vision: string;
  textOnly: string;
  close(): Promise<void>;
}

export const MAX_TEST_IMAGE = 64 * 1024;

export async function startMediaGateway(label: string, env: Record<string, string> = {}): Promise<MediaGateway> {
  const prefix = testRedisPrefix(label);
  const redis = new Redis('redis://127.0.0.1:6379');
  const [double, h] = await Promise.all([
    startOpenAIDouble(),
    startGatewayHarness(label, { REDIS_PREFIX: prefix, GATEWAY_MAX_IMAGE_BYTES: String(MAX_TEST_IMAGE), GATEWAY_MAX_REQUEST_IMAGE_BYTES: String(2 * MAX_TEST_IMAGE), ...env }, { redis, quotaRefreshMs: 100 }),
  ]);
  const vision = (await makeDeployment(h.t.db, { engine: 'vllm', vision: true }, [double.url])).deployment.name;
  const textOnly = (await makeDeployment(h.t.db, { engine: 'vllm' }, [double.url])).deployment.name;
  await h.gateway.refresh();
  return {
    h,
    redis,
    double,
    prefix,
    vision,
    textOnly,
    async close() {
      await h.close();
      await double.close();
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** An OpenAI error answer's status and fields. */
export async function errorOf(res: Response) {
  return { status: res.status, ...((await res.json()) as { error: { code: string; message: string; param: string | null } }).error };
}
