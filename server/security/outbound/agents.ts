import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { OutboundRefused, type OutboundPolicy } from './policy';

type Callback = (err: Error | null, socket?: Duplex) => void;
type ConnectOptions = http.ClientRequestArgs & net.TcpNetConnectOpts;

/**
 * The policy at connect time. A literal address is checked as it is; a name is resolved once by a lookup
 * that checks every address it returns, and the socket connects to exactly those, so a name that
 * resolves to one address when the URL is saved and to 127.0.0.1 later (DNS rebinding) is refused.
 */
function guardedConnect(policy: OutboundPolicy, options: ConnectOptions, callback: Callback, connect: (o: ConnectOptions) => Duplex): Duplex | undefined {
  const host = String(options.host ?? options.hostname ?? 'localhost');
  const port = Number(options.port);
  const why = policy.checkHost(host, port);
  if (why) {
    process.nextTick(callback, new OutboundRefused(why));
    return undefined;
  }
  const lookup: net.LookupFunction = (hostname, opts, cb) => {
    policy.resolve(hostname, port).then(
      (all) => {
        const wanted = opts.family === 4 || opts.family === 6 ? all.filter((a) => a.family === opts.family) : all;
        if (!wanted.length) return cb(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
        if (opts.all) (cb as unknown as (e: null, a: typeof all) => void)(null, wanted);
        else cb(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: Error) => cb(err as NodeJS.ErrnoException, '', 0),
    );
  };
  return connect({ ...options, lookup });
}

/** The agent with its connections made through guardedConnect (an instance method, so http and https share it). */
function guard<A extends http.Agent>(agent: A, policy: OutboundPolicy): A {
  const connect = agent.createConnection.bind(agent) as (o: ConnectOptions) => Duplex;
  agent.createConnection = ((options: ConnectOptions, callback: Callback) => guardedConnect(policy, options, callback, connect)) as A['createConnection'];
  return agent;
}

export interface GuardedAgents {
  http: http.Agent;
  https: https.Agent;
}

/** Keep-alive agents that connect only where the policy allows (undefined return: refused, reported through the callback). */
export function createGuardedAgents(policy: OutboundPolicy, options: http.AgentOptions = {}): GuardedAgents {
  const common = { keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' as const, ...options };
  return { http: guard(new http.Agent(common), policy), https: guard(new https.Agent(common), policy) };
}

const shared = new WeakMap<OutboundPolicy, GuardedAgents>();
/** One pair of agents per policy for the whole process, so connections to an upstream are reused. */
export function guardedAgents(policy: OutboundPolicy): GuardedAgents {
  let agents = shared.get(policy);
  if (!agents) shared.set(policy, (agents = createGuardedAgents(policy)));
  return agents;
}
