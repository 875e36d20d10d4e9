import net from 'node:net';

export interface TcpBalancer {
  url: string;
  /** Connections handed to each backend port so far. */
  readonly handed: Map<number, number>;
  close(): Promise<void>;
}

/**
 * What an operator puts in front of replicated web or gateway processes (a cloud load balancer, HAProxy
 * in TCP mode), reduced to loopback: each new connection goes to the next backend in turn, and to the one
 * after it when that one refuses (a process killed). Connections already open die with their backend, as
 * they do behind a real balancer.
 */
export async function startTcpBalancer(ports: number[]): Promise<TcpBalancer> {
  let next = 0;
  const handed = new Map<number, number>();
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    client.pause();
    const attempt = (left: number) => {
      const port = ports[next++ % ports.length]!;
      const upstream = net.connect(port, '127.0.0.1');
      const refused = () => {
        upstream.destroy();
        if (left > 1 && !client.destroyed) attempt(left - 1);
        else client.destroy();
      };
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        handed.set(port, (handed.get(port) ?? 0) + 1);
        open.add(upstream);
        upstream.on('close', () => open.delete(upstream));
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(ports.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    handed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
