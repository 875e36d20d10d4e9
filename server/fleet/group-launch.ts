import net from 'node:net';
import type { Assignment } from './nodes/assignments';
import type { GroupLaunch } from '../engines/types';
import { parseRendezvous } from '../engines/vllm/multinode';

/** How this host takes part in a multi-node replica, or why it cannot yet (a worker waits for its head). */
export function groupLaunchFor(a: Assignment, host: string, mode: GroupLaunch['mode'], masterPort: number): GroupLaunch | { wait: string } {
  const g = a.group!;
  // The head (rank 0) opens the meeting point on its own address with the mode its agent is set to.
  if (g.rank === 0) return { mode, nodes: g.nodes, rank: 0, masterAddr: host, masterPort };
  // Workers follow the head's choice, whatever their own setting, so a group never mixes the two.
  const met = g.rendezvous ? parseRendezvous(g.rendezvous) : null;
  if (!met) return { wait: g.rendezvous ? `unreadable rendezvous '${g.rendezvous}'` : 'the head is not listening yet' };
  return { mode: met.mode, nodes: g.nodes, rank: g.rank, masterAddr: met.masterAddr, masterPort: met.masterPort };
}

/** A worker the agent may start now: placed, not yet running, and its head already listening. */
export const workerMayStart = (a: Assignment) => a.group !== undefined && a.group.rank > 0 && a.group.rendezvous !== null;

/** Whether an earlier agent's worker process is this member's: it names the head's master port. */
export function isWorkerOf(cmdline: string[] | null, a: Assignment): boolean {
  const met = a.group?.rendezvous ? parseRendezvous(a.group.rendezvous) : null;
  if (!met) return false;
  const port = String(met.masterPort);
  return cmdline === null || cmdline.some((arg) => arg === port || arg.endsWith(`:${port}`));
}

/**
 * Resolves true once something accepts TCP connections at host:port, false when `alive()` turns false or
 * the deadline passes. The head publishes its meeting point only then, so no worker dials a closed port.
 */
export async function waitForListening(host: string, port: number, alive: () => boolean, deadline: number): Promise<boolean> {
  while (alive() && Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host, port });
      const done = (ok: boolean) => {
        socket.destroy();
        resolve(ok);
      };
      socket.setTimeout(1_000, () => done(false));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
