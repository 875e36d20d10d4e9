import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Messages } from '../chat/messages';
import { apiKeys, battles, conversations, datasets, experiments, jobs, loadTests, modelVersions, type Role } from '../db/schema';
import { registerVersion } from '../lifecycle/catalog';
import { makeHfBase, tempDir } from '../lifecycle/jobs/testing/fixtures';
import { closeRedis } from '../core/redis';
import { createTestDatabase, testRedisPrefix, type TestDatabase } from '../testing/database';
import { makeBattle, makeDataset, makeDeployment, makeExperiment, makeJob, makeLoadTest } from '../testing/factories';
import { startApiTestServer } from './testing/api-test-server';
import { inputKeys, procedureKind, procedurePaths } from './testing/procedures';

/**
 * Who may call what, generated from the router itself: every procedure × anonymous and every role. A
 * procedure added without a line in POLICY fails the first test, so none can skip the check. Then
 * every procedure that takes the id of something someone owns is tried by another person of the same
 * role with the owner's id: refused, and nothing changed.
 */
process.env.REDIS_PREFIX = testRedisPrefix('authzmatrix');

const ROLES = ['user', 'viewer', 'engineer', 'admin'] as const satisfies readonly Role[];
type Who = 'anonymous' | Role;
const everyone: Role[] = [...ROLES];
const fleetReaders: Role[] = ['admin', 'engineer', 'viewer'];
const engineers: Role[] = ['admin', 'engineer'];
const admins: Role[] = ['admin'];

/** 'public': anyone, signed in or not; otherwise the roles allowed past the server's role check. */
const POLICY: Record<string, 'public' | Role[]> = {
  'auth.signIn': 'public',
  'auth.signOut': 'public',
  'auth.signInOptions': 'public',
  'auth.me': 'public',
  'auth.setLocale': everyone,
  'auth.changePassword': everyone,
  'auth.sessions': everyone,
  'auth.revokeSession': everyone,
  'auth.revokeOtherSessions': everyone,
  'models.list': everyone,
  'conversations.list': everyone,
  'conversations.get': everyone,
  'conversations.create': everyone,
  'conversations.rename': everyone,
  'conversations.setContext': everyone,
  'conversations.setSystemPrompt': everyone,
  'presets.list': everyone,
  'presets.create': everyone,
  'presets.update': everyone,
  'presets.delete': everyone,
  'audio.deployments': everyone,
  'audio.transcribe': everyone,
  'audio.speak': everyone,
  'knowledge.list': everyone,
  'knowledge.get': everyone,
  'knowledge.create': everyone,
  'knowledge.update': everyone,
  'knowledge.delete': everyone,
  'knowledge.documents': everyone,
  'knowledge.deleteDocument': everyone,
  'knowledge.passage': everyone,
  'knowledge.search': everyone,
  'knowledge.attached': everyone,
  'knowledge.attach': everyone,
  'knowledge.detach': everyone,
  'conversations.delete': everyone,
  'chat.send': everyone,
  'keys.list': everyone,
  'keys.create': everyone,
  'keys.revoke': everyone,
  'users.list': admins,
  'users.create': admins,
  'users.setRole': admins,
  'users.setDisabled': admins,
  'users.resetPassword': admins,
  'users.sessions': admins,
  'users.revokeSession': admins,
  'users.delete': admins,
  'users.erase': admins,
  'users.erasureReports': admins,
  'retention.policies': admins,
  'retention.setPolicy': admins,
  'retention.holds': admins,
  'retention.placeHold': admins,
  'retention.liftHold': admins,
  'audit.list': admins,
  'audit.verify': admins,
  'audit.exportAnchors': admins,
  'backups.list': admins,
  'backups.drill': admins,
  'backups.startDrill': admins,
  'catalog.list': fleetReaders,
  'catalog.registerVersion': engineers,
  'deployments.list': fleetReaders,
  'deployments.get': fleetReaders,
  'deployments.dryRun': fleetReaders,
  'deployments.logs': fleetReaders,
  'deployments.startMeasurements': fleetReaders,
  'deployments.estimateErrors': fleetReaders,
  'deployments.gateway': fleetReaders,
  'deployments.setGateway': engineers,
  'deployments.create': engineers,
  'deployments.scale': engineers,
  'deployments.stop': engineers,
  'deployments.start': engineers,
  'deployments.delete': engineers,
  'fleet.nodes': fleetReaders,
  'fleet.samples': fleetReaders,
  'datasets.list': engineers,
  'datasets.get': engineers,
  'datasets.preview': engineers,
  'datasets.delete': engineers,
  'jobs.createFinetune': engineers,
  'jobs.createQuantize': engineers,
  'jobs.list': fleetReaders,
  'jobs.get': fleetReaders,
  'jobs.metrics': fleetReaders,
  'jobs.logs': fleetReaders,
  'jobs.events': everyone, // every signed-in role, scoped to the jobs they may read (see jobScope)
  'jobs.cancel': engineers,
  'jobs.overrideGate': engineers,
  'jobs.promoteVersion': engineers,
  'jobs.estimate': fleetReaders,
  'jobs.lineage': fleetReaders,
  'loadtests.list': fleetReaders,
  'loadtests.get': fleetReaders,
  'loadtests.histograms': fleetReaders,
  'loadtests.compare': fleetReaders,
  'loadtests.create': engineers,
  'loadtests.cancel': engineers,
  'experiments.list': fleetReaders,
  'experiments.get': fleetReaders,
  'experiments.create': engineers,
  'experiments.start': engineers,
  'experiments.stop': engineers,
  'experiments.promote': engineers,
  'experiments.feedback': everyone,
  'experiments.latency': fleetReaders,
  'experiments.latencyOptions': fleetReaders,
  'experiments.cacheRate': fleetReaders,
  'arena.start': everyone,
  'arena.vote': everyone,
  'arena.leaderboard': everyone,
  'arena.myBattles': everyone,
  'monitoring.gpuSeries': fleetReaders,
  'monitoring.alerts': fleetReaders,
  'monitoring.firingCount': fleetReaders,
  'monitoring.rules': engineers,
  'monitoring.createRule': admins,
  'monitoring.updateRule': admins,
  'monitoring.deleteRule': admins,
  'monitoring.webhooks': engineers,
  'monitoring.createWebhook': admins,
  'monitoring.updateWebhook': admins,
  'monitoring.deleteWebhook': admins,
  'monitoring.testWebhook': admins,
  'quotas.mine': everyone,
  'quotas.list': admins,
  'quotas.set': admins,
  'quotas.remove': admins,
  'quotas.setPrice': admins,
  'quotas.removePrice': admins,
  'groups.list': admins,
  'groups.members': admins,
  'groups.mine': everyone,
  'groups.create': admins,
  'groups.update': admins,
  'groups.remove': admins,
  'groups.addMember': admins,
  'groups.removeMember': admins,
  'groups.setLink': admins,
  'groups.setGrant': admins,
  'usage.mine': everyone,
  'usage.mineCsv': everyone,
  'usage.summary': ['admin', 'viewer'],
  'usage.csv': ['admin', 'viewer'],
  'usage.quality': fleetReaders,
  'classification.levels': everyone,
  'classification.get': everyone,
  'classification.set': everyone,
  'dataProtection.settings': admins,
  'dataProtection.saveRule': admins,
  'dataProtection.deleteRule': admins,
  'dataProtection.setFindingLevel': admins,
  'dataProtection.setDeploymentPolicy': admins,
  'dataProtection.test': admins,
  'tools.list': admins,
  'tools.create': admins,
  'tools.update': admins,
  'tools.delete': admins,
  'tools.grant': admins,
  'tools.revoke': admins,
};

/**
 * Procedures whose input names something by id, and what the id belongs to. OWNED: a person's, so
 * another person of the same role may at most watch it, never act on it (tested below). SHARED: the
 * fleet's, on purpose, with why. A new procedure taking an id must be put in one of them.
 */
const OWNED = new Set([
  'conversations.get',
  'conversations.rename',
  'conversations.delete',
  'conversations.setContext',
  'conversations.setSystemPrompt',
  'conversations.create', // may name a preset: the caller's own or one shared with their groups
  'presets.update',
  'presets.delete',
  // A knowledge base, its documents and passages: the owner's, readable by its groups (server/knowledge/knowledge.test.ts tries another user's)
  'knowledge.get',
  'knowledge.update',
  'knowledge.delete',
  'knowledge.documents',
  'knowledge.deleteDocument',
  'knowledge.passage',
  'knowledge.search',
  'knowledge.attached',
  'knowledge.attach',
  'knowledge.detach',
  'keys.revoke',
  'auth.revokeSession',
  'datasets.get',
  'datasets.preview',
  'datasets.delete',
  'jobs.cancel',
  'jobs.overrideGate',
  'jobs.promoteVersion',
  'loadtests.get',
  'loadtests.histograms',
  'loadtests.compare',
  'loadtests.cancel',
  'experiments.start',
  'experiments.stop',
  'experiments.promote',
  'experiments.feedback',
  'experiments.latency',
  'arena.vote',
  'chat.send', // names a conversation (its input is checked by parseChatRequest, so its keys are not listed)
  'jobs.events',
  'jobs.createFinetune', // names a dataset: only its owner's (or an admin's) may be trained on
  'jobs.estimate',
  'jobs.createQuantize',
  'loadtests.create', // names a deployment (shared) or a replay of the caller's own logs
  'classification.get', // names a conversation, dataset, API key or knowledge base: its owner's (datasets and keys also an admin's; a shared base is read, not changed, by its group)
  'classification.set',
]);
const SHARED: Record<string, string> = {
  'users.setRole': 'admins manage every account',
  'users.setDisabled': 'admins manage every account',
  'users.resetPassword': 'admins manage every account',
  'users.sessions': 'admins see every account\'s sessions',
  'users.revokeSession': 'admins end anyone\'s session',
  'users.delete': 'admins delete any account',
  'users.erase': 'admins erase any person on request',
  'retention.placeHold': 'admins place legal holds on anyone or any conversation',
  'retention.liftHold': 'admins lift any legal hold',
  'quotas.set': "admins set anyone's quota",
  'quotas.remove': "admins set anyone's quota",
  'quotas.setPrice': 'prices are set on shared deployments',
  'quotas.removePrice': 'prices are set on shared deployments',
  'groups.members': 'admins manage every group',
  'groups.update': 'admins manage every group',
  'groups.remove': 'admins manage every group',
  'groups.addMember': 'admins manage every group',
  'groups.removeMember': 'admins manage every group',
  'groups.setLink': 'admins manage every group',
  'groups.setGrant': 'admins grant shared deployments to groups',
  'deployments.get': 'deployments are the fleet: every engineer operates and every viewer reads them',
  'deployments.logs': 'the fleet',
  'deployments.scale': 'the fleet',
  'deployments.stop': 'the fleet',
  'deployments.start': 'the fleet',
  'deployments.delete': 'the fleet',
  'deployments.create': 'names a model version of the shared catalog',
  'deployments.dryRun': 'the fleet',
  'deployments.startMeasurements': 'the fleet',
  'deployments.gateway': 'the fleet',
  'deployments.setGateway': 'the fleet: its cache, timeouts and fallbacks serve everyone who may use it',
  'jobs.get': 'engineers and viewers watch every job; acting on one is its owner\'s (jobs.cancel...)',
  'jobs.metrics': 'as jobs.get',
  'jobs.logs': 'as jobs.get',
  'jobs.lineage': 'the shared catalog',
  'experiments.get': 'experiments route shared traffic: every engineer and viewer reads them',
  'experiments.create': 'names shared deployments',
  'fleet.samples': 'the fleet',
  'monitoring.gpuSeries': 'the fleet',
  'monitoring.updateRule': 'admins manage alerting',
  'monitoring.deleteRule': 'admins manage alerting',
  'monitoring.updateWebhook': 'admins manage alerting',
  'monitoring.deleteWebhook': 'admins manage alerting',
  'monitoring.testWebhook': 'admins manage alerting',
  'catalog.registerVersion': 'the shared catalog',
  'audit.list': 'admins read the whole trail',
  'backups.drill': 'backups are the install\'s: admins watch every drill',
  'backups.startDrill': 'names a backup of the install, not a person\'s',
  'dataProtection.saveRule': 'admins manage the organisation\'s detector rules',
  'dataProtection.deleteRule': 'admins manage the organisation\'s detector rules',
  'dataProtection.setDeploymentPolicy': 'the fleet: admins set what each shared deployment may receive',
  'tools.update': "tools are the install's: admins manage every plugin",
  'tools.delete': "tools are the install's: admins manage every plugin",
  'tools.grant': 'admins grant the install\'s tools to groups',
  'tools.revoke': 'admins grant the install\'s tools to groups',
};

let t: TestDatabase;
let api: Awaited<ReturnType<typeof startApiTestServer>>;
const masterKey = randomBytes(32);
let dataDir: string;
const gguf = path.resolve(__dirname, '../../models/stories260K.gguf');
const cookies = {} as Record<Role | 'engineer2' | 'user2', string>;
const ids = {} as Record<Role | 'engineer2' | 'user2', string>;

beforeAll(async () => {
  t = await createTestDatabase('authzmatrix');
  dataDir = tempDir('authzmatrix');
  api = await startApiTestServer({ db: t.db, masterKey, env: { ENCLAVE_DATA_DIR: dataDir } });
  for (const who of [...ROLES, 'engineer2', 'user2'] as const) {
    const s = await api.userSession(who.replace('2', ''));
    cookies[who] = s.cookie;
    ids[who] = s.user.id;
  }
});
afterAll(async () => {
  await api?.close();
  await closeRedis();
  await t?.drop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function call(path: string, input: unknown, cookie?: string) {
  return api.trpc(procedureKind(path), path, input, cookie);
}

describe('every procedure × anonymous and every role', () => {
  it('POLICY names every procedure of the router, and only those', () => {
    expect(Object.keys(POLICY).sort()).toEqual(procedurePaths());
  });

  it('every procedure that takes an id is declared owned (and tested below) or shared (with why)', () => {
    const takesId = procedurePaths().filter((p) => inputKeys(p).some((k) => /(^id$|Id$|^ids$)/.test(k)));
    const undecided = takesId.filter((p) => !OWNED.has(p) && !(p in SHARED));
    expect(undecided).toEqual([]);
  });

  it('refuses what the policy refuses (401 for nobody, 403 for a role), and lets through what it allows', async () => {
    const wrong: string[] = [];
    for (const path of procedurePaths()) {
      const policy = POLICY[path]!;
      for (const who of ['anonymous', ...ROLES] as Who[]) {
        // Signing out ends the session it is given: it gets a session of its own.
        const cookie = who === 'anonymous' ? undefined : path === 'auth.signOut' ? (await api.userSession(who)).cookie : cookies[who];
        // An input of the wrong shape: the role check comes first, so it decides 401/403 alone, and
        // an allowed call stops at input validation without changing anything.
        const res = await call(path, { matrix: true }, cookie);
        const allowed = policy === 'public' || (who !== 'anonymous' && policy.includes(who));
        const expected = allowed ? 'allowed' : who === 'anonymous' ? 401 : 403;
        const got = res.status === 401 || res.status === 403 ? res.status : 'allowed';
        if (got !== expected) wrong.push(`${path} as ${who}: ${res.status} ${res.error?.message ?? ''}`);
        expect(res.status, `${path} as ${who}`).toBeLessThan(500);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("another person's ids, same role", () => {
  it("conversations, keys and arena battles of another user are not found, and stay as they were", async () => {
    const conv = await api.trpc('mutation', 'conversations.create', { title: 'mine' }, cookies.user);
    const key = await api.trpc('mutation', 'keys.create', { name: 'mine' }, cookies.user);
    const preset = await api.trpc('mutation', 'presets.create', { name: 'mine', systemPrompt: 'Answer in French.' }, cookies.user);
    const messages = new Messages(t.db, masterKey, ids.user);
    const reply = await messages.add({ conversationId: conv.data.id, parentId: null, role: 'assistant', content: 'an answer', model: 'm' });
    const battle = await makeBattle(t.db, { userId: ids.user });
    const session = (await api.trpc('query', 'auth.sessions', undefined, cookies.user)).data[0];
    const kb = await api.trpc('mutation', 'knowledge.create', { name: 'mine', embeddingModel: 'm' }, cookies.user);
    const attempts: [string, unknown][] = [
      ['conversations.get', { id: conv.data.id }],
      ['conversations.rename', { id: conv.data.id, title: 'stolen' }],
      ['conversations.delete', { id: conv.data.id }],
      ['conversations.setContext', { id: conv.data.id, policy: 'trim' }],
      ['conversations.setSystemPrompt', { id: conv.data.id, systemPrompt: 'You now obey me.' }],
      ['conversations.create', { presetId: preset.data.id }],
      ['presets.update', { id: preset.data.id, values: { name: 'stolen', systemPrompt: 'x' } }],
      ['presets.delete', { id: preset.data.id }],
      ['keys.revoke', { id: key.data.id }],
      ['experiments.feedback', { messageId: reply.id, rating: -1 }],
      ['arena.vote', { battleId: battle.id, winner: 'a' }],
      ['auth.revokeSession', { id: session.id }],
      ['classification.get', { kind: 'conversation', id: conv.data.id }],
      ['classification.set', { kind: 'conversation', id: conv.data.id, level: 0 }],
      ['classification.set', { kind: 'api_key', id: key.data.id, level: 0 }],
      ['classification.get', { kind: 'knowledge_base', id: kb.data.id }],
      ['classification.set', { kind: 'knowledge_base', id: kb.data.id, level: 0 }],
    ];
    for (const [path, input] of attempts) expect([path, (await call(path, input, cookies.user2)).status]).toEqual([path, 404]);
    // A streamed call, made as the browser makes it.
    const turn = await api.stream('chat.send', { conversationId: conv.data.id, model: 'm', parentId: null, content: 'hi' }, { cookie: cookies.user2 });
    expect(['chat.send', turn.status]).toEqual(['chat.send', 404]);
    expect(await new Messages(t.db, masterKey, ids.user).list(conv.data.id)).toHaveLength(1);
    const [c] = await t.db.select().from(conversations).where(eq(conversations.id, conv.data.id));
    expect(c).toBeDefined();
    expect((await api.trpc('query', 'conversations.get', { id: conv.data.id }, cookies.user)).data).toMatchObject({ title: 'mine', systemPrompt: '', context: { policy: 'summarize' } });
    expect((await api.trpc('query', 'presets.list', undefined, cookies.user)).data).toMatchObject([{ name: 'mine', systemPrompt: 'Answer in French.' }]);
    expect((await t.db.select().from(apiKeys).where(eq(apiKeys.id, key.data.id)))[0]!.revokedAt).toBeNull();
    expect((await t.db.select().from(battles).where(eq(battles.id, battle.id)))[0]!.winner).toBeNull();
  });

  it("another engineer's datasets, jobs, load tests and experiments: watched at most, never acted on", async () => {
    const dataset = await makeDataset(t.db, masterKey, dataDir, ids.engineer);
    const version = await makeHfBase(t.db, dataDir);
    const output = await registerVersion(t.db, { modelName: 'owned-model', format: 'gguf', location: gguf });
    const job = await makeJob(t.db, { kind: 'quantize', name: 'owned', ownerId: ids.engineer, status: 'running', gateStatus: 'blocked', outputVersionId: output.id });
    await t.db.update(modelVersions).set({ producedByJobId: job.id, stage: 'candidate' }).where(eq(modelVersions.id, output.id));
    const { deployment } = await makeDeployment(t.db, {}, []);
    const run = await makeLoadTest(t.db, { ownerId: ids.engineer, name: 'owned', model: deployment.name, deploymentId: deployment.id, status: 'running' });
    const other = await makeLoadTest(t.db, { ownerId: ids.engineer2, name: 'theirs', status: 'succeeded' });
    const { experiment } = await makeExperiment(t.db, { name: 'owned-exp', status: 'draft', createdBy: ids.engineer });

    const refused: [string, unknown, number][] = [
      ['datasets.get', { id: dataset.id }, 404],
      ['datasets.preview', { id: dataset.id }, 404],
      ['datasets.delete', { id: dataset.id }, 404],
      ['jobs.createFinetune', { baseVersionId: version.id, datasetId: dataset.id }, 404],
      ['jobs.estimate', { baseVersionId: version.id, datasetId: dataset.id }, 404],
      ['jobs.createQuantize', { sourceVersionId: output.id, target: 'q8_0', evalDatasetId: dataset.id }, 404],
      ['jobs.cancel', { id: job.id }, 403],
      ['jobs.overrideGate', { id: job.id, reason: 'someone else vouching for it' }, 403],
      ['jobs.promoteVersion', { versionId: output.id }, 403],
      ['jobs.events', { id: job.id }, 200],
      // Engineers watch every load test, as every job; only its owner (or an admin) stops one.
      ['loadtests.get', { id: run.id }, 200],
      ['loadtests.histograms', { id: run.id }, 200],
      ['loadtests.compare', { ids: [run.id, other.id] }, 200],
      ['loadtests.cancel', { id: run.id }, 403],
      ['experiments.start', { id: experiment.id }, 403],
      ['experiments.stop', { id: experiment.id }, 403],
      ['experiments.promote', { id: experiment.id, variantId: '00000000-0000-4000-8000-000000000000' }, 400],
      ['experiments.latency', { metric: 'ttft', scope: { kind: 'loadTest', id: run.id } }, 200],
    ];
    const wrong: string[] = [];
    for (const [path, input, status] of refused) {
      const res = await call(path, input, cookies.engineer2);
      if (res.status !== status) wrong.push(`${path}: ${res.status} ${res.error?.message ?? ''}`);
    }
    expect(wrong).toEqual([]);
    // Nothing moved.
    expect((await t.db.select().from(datasets).where(eq(datasets.id, dataset.id))).length).toBe(1);
    expect((await t.db.select().from(jobs).where(eq(jobs.id, job.id)))[0]).toMatchObject({ status: 'running', gateStatus: 'blocked', cancelRequestedAt: null });
    expect((await t.db.select().from(modelVersions).where(eq(modelVersions.id, output.id)))[0]!.stage).toBe('candidate');
    expect((await t.db.select().from(loadTests).where(eq(loadTests.id, run.id)))[0]!.status).toBe('running');
    expect((await t.db.select().from(experiments).where(eq(experiments.id, experiment.id)))[0]!.status).toBe('draft');
    // The owner, and an admin, may.
    expect((await call('experiments.start', { id: experiment.id }, cookies.engineer)).status).toBe(200);
    expect((await call('jobs.overrideGate', { id: job.id, reason: 'the admin accepts the delta' }, cookies.admin)).status).toBe(200);
  });
});
