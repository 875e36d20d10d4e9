import fs from 'node:fs';

/**
 * Reads an strace log (`strace -f -e trace=connect,sendto,sendmsg,sendmmsg`) and returns every call that
 * addressed somewhere other than loopback: a connect() or a datagram to a real address. In a network
 * namespace with only `lo` such a call fails (ENETUNREACH), so the product may swallow the error; strace
 * sees the attempt itself.
 */
export function outboundAttempts(straceLog: string): string[] {
  const found: string[] = [];
  for (const line of straceLog.split('\n')) {
    const v4 = /sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([\d.]+)"\)/.exec(line);
    if (v4 && !isLoopbackV4(v4[2]!)) found.push(line.trim());
    const v6 = /sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([0-9a-fA-F:.]+)"/.exec(line);
    if (v6 && !isLoopbackV6(v6[2]!)) found.push(line.trim());
  }
  return found;
}

const isLoopbackV4 = (ip: string) => ip.startsWith('127.') || ip === '0.0.0.0';
const isLoopbackV6 = (ip: string) => ip === '::1' || ip === '::' || /^::ffff:(127\.|0\.0\.0\.0$)/i.test(ip);

export function outboundAttemptsInFile(file: string): string[] {
  return outboundAttempts(fs.readFileSync(file, 'utf8'));
}

/** The strace arguments that log network calls of a process tree, cheaply (seccomp: only these syscalls stop). */
export function straceArgs(logFile: string): string[] {
  return ['-f', '--seccomp-bpf', '-qq', '-s', '0', '-e', 'trace=connect,sendto,sendmsg,sendmmsg', '-e', 'signal=none', '-o', logFile];
}
