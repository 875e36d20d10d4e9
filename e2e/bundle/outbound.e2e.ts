// A plain test of the strace reader, here because only e2e/ is its home: the unit suite does not look in e2e/.
import { describe, expect, it } from 'vitest';
import { outboundAttempts } from './outbound';

// Lines as strace 6 prints them (captured on this machine from the bundled Node in an `unshare -n` namespace).
const LOG = `28726 connect(21, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file or directory)
28726 connect(21, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.255.255.53")}, 16) = -1 ENETUNREACH (Network is unreachable)
28699 connect(22, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("93.184.215.14")}, 16) = -1 ENETUNREACH (Network is unreachable)
28700 connect(23, {sa_family=AF_INET, sin_port=htons(5432), sin_addr=inet_addr("127.0.0.1")}, 16) = -1 EINPROGRESS (Operation now in progress)
28701 connect(24, {sa_family=AF_INET6, sin6_port=htons(6379), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::1", &sin6_addr), sin6_scope_id=0}, 28) = 0
28702 connect(25, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2606:4700::6810:85e5", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH (Network is unreachable)
28703 sendto(26, ""..., 40, MSG_NOSIGNAL, NULL, 0) = 40
28704 sendto(27, ""..., 33, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = -1 ENETUNREACH (Network is unreachable)
28705 sendmsg(28, {msg_name={sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6_addr), sin6_scope_id=0}, msg_namelen=28}, 0) = 0`;

describe('outboundAttempts', () => {
  it('reports connects and datagrams to real addresses, over IPv4 and IPv6, and nothing on loopback or Unix sockets', () => {
    const found = outboundAttempts(LOG);
    expect(found.map((l) => l.split(' ')[0])).toEqual(['28726', '28699', '28702', '28704']);
  });

  it('finds nothing in a log of loopback traffic only', () => {
    expect(outboundAttempts(LOG.split('\n').filter((l) => /127\.0\.0\.1|::1"|AF_UNIX|NULL/.test(l)).join('\n'))).toEqual([]);
  });
});
