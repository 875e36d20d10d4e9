import { ConfigError } from '../server/core/env';
import { UsageError } from './args';
import { commands } from './commands';

const USAGE = `Usage: enclave <command>

Roles:
  start                 every role on one machine: UI, API, gateway (/v1) on PORT (default 3000), worker, agent
  web | gateway | worker | agent
                        one role per process
  agent --join URL --token T [--name N]
                        a remote GPU host joining the fleet over HTTPS

Installation:
  doctor [--json]       check this installation as start would find it: Node, configuration, data directory and
                        disk space, PostgreSQL, Redis, master key, TLS files, artifact store, GPUs and drivers,
                        vLLM; one line per check with what to fix; exit 1 when a check failed

GPU fleet:
  gpus                  this host's GPUs, topology and processes as JSON (zero GPUs without nvidia-smi)
  gpus parse --query FILE [--topo FILE] [--apps FILE]
                        the same JSON from saved nvidia-smi output
  plan --nodes DIR --model CONFIG_JSON [--tp N] [--dtype D] [--quantization Q] [--max-model-len N]
       [--gpu-memory-utilization X] [--policy binpack|spread]
                        where a model would be placed, what it needs per GPU, and why not when it does not fit
  nodes join-token [--ttl-hours N]
                        a one-time token for a remote agent
  nodes list            the fleet's nodes
  nodes revoke NAME     revoke a node's client certificates and credential (it must join again)

Models:
  quantize --in IN.gguf --out OUT.gguf --type f16|q8_0
                        convert a GGUF file's F32/F16 matrices (streaming); prints sizes and seconds as JSON

Evaluation:
  eval perplexity --model FILE.gguf --text FILE [--context N] [--threads N]
                        perplexity of a text under a GGUF model on the CPU, as JSON {"perplexity","tokens"}
  loadtest --target URL --model NAME [--api-key K] (--concurrency N | --rate R [--burstiness B])
           --requests N [--input-tokens N --output-tokens N] [--warmup N] [--seed S] [--json]
                        streaming load on an OpenAI-compatible API; TTFT/TPOT/ITL/E2E percentiles and throughput

Admin (same configuration as start; works while it runs):
  users create --email E --role admin|engineer|user|viewer [--password P] [--name N]
  users erase EMAIL [--yes] [--json]
                        erase a person (GDPR Art. 17 / PIPL): all of theirs deleted, their data keys destroyed,
                        in backups too; prints the verification report (refused while on legal hold)
  users delete EMAIL [--yes] [--json]
                        delete an account and all of theirs (keys destroyed; older backups age out)
  keys create --name N [--user EMAIL] [--models a,b] [--expires-days D] [--max-concurrent N]
  keys rotate-master    re-wrap every data key under a new master key (and re-sign the audit checkpoints)
  audit verify [--from DATE] [--to DATE] [--anchors COPY] [--json]
                        check the audit chain and its checkpoints (and an exported copy), all of it or a range,
                        from the last archived month on; print each break (row ids, expected vs found); exit 1 when not intact
  audit export-anchors [--out FILE]
                        the audit checkpoints, to keep a copy where this machine cannot reach
  backup [--to DIR]     a consistent, encrypted backup of the database and the data directory's files
  backup list [--json]  the backups in ENCLAVE_BACKUP_DIR: date, size, schema
  backup drill [BACKUP] [--json]
                        restore into a scratch database, compare counts and hashes, decrypt, verify the audit chain
  restore BACKUP        into an empty database and data directory (refuses a newer schema, a wrong key, a tampered part)
  artifacts copy-from-data-dir
                        copy the datasets under <data dir>/datasets into the configured artifact store (S3 or
                        ENCLAVE_ARTIFACTS_DIR) as they are, before switching stores; safe to run again
`;

async function main(argv: string[]) {
  const [first, second, ...rest] = argv;
  if (!first || first === 'help' || first === '--help' || first === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const key = commands[`${first} ${second}`] ? `${first} ${second}` : first;
  const command = commands[key];
  if (!command) throw new UsageError(`unknown command: ${argv.join(' ')}`);
  const args = key.includes(' ') ? rest : argv.slice(1);
  return (await command(args)) ?? 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 'running') process.exit(code);
  },
  (e) => {
    if (e instanceof UsageError) process.stderr.write(`enclave: ${e.message}\n\n${USAGE}`);
    else if (e instanceof ConfigError) process.stderr.write(`enclave: ${e.message}\n`);
    else process.stderr.write(`enclave: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
