// The image's HEALTHCHECK: the running role's health endpoint on loopback. `start` and `web` answer
// /api/health on PORT (it checks the database too); `gateway` answers /health on GATEWAY_PORT. worker and
// agent listen on no port: their health is their process (and the orchestrator's restart policy).
// With TLS on, the certificate is not checked: this asks the process on 127.0.0.1 whether it is up.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const ROLES = ['start', 'web', 'gateway', 'worker', 'agent'];
// PID 1 is tini; its arguments name the role (`tini -- enclave gateway`).
const args = fs.readFileSync('/proc/1/cmdline', 'utf8').split('\0');
const role = args.find((a) => ROLES.includes(a)) ?? 'start';
if (role === 'worker' || role === 'agent') process.exit(0);

const tls = Boolean(process.env.ENCLAVE_TLS_CERT);
const port = role === 'gateway' ? process.env.GATEWAY_PORT || '3001' : process.env.PORT || '3000';
const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}${role === 'gateway' ? '/health' : '/api/health'}`;
const req = (tls ? https : http).get(url, { timeout: 4000, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.stdout.write(`${url}: ${res.statusCode}\n`);
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('no answer within 4 s')));
req.on('error', (e) => {
  process.stdout.write(`${url}: ${e.message}\n`);
  process.exit(1);
});
