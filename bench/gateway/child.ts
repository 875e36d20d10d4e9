/**
 * The child side of the benchmark's process protocol: announce the port over IPC, answer CPU-usage
 * queries with process.cpuUsage() (microsecond resolution, unlike /proc ticks), and exit cleanly when
 * told to or when the parent goes away.
 */
export function serveBenchChild(port: number, close: () => Promise<void>, cpu: () => NodeJS.CpuUsage = () => process.cpuUsage()): void {
  const send = (msg: unknown) => process.send?.(msg);
  let closing = false;
  const stop = async () => {
    if (closing) return;
    closing = true;
    await close().catch(() => {});
    process.exit(0);
  };
  process.on('message', (msg: { id?: number; cmd?: string }) => {
    if (msg.cmd === 'cpu') send({ id: msg.id, cpu: cpu() });
    if (msg.cmd === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());
  process.on('SIGTERM', () => void stop());
  send({ event: 'listening', port });
}
