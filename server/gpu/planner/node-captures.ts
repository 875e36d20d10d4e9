import fs from 'node:fs';
import path from 'node:path';
import { parseQueryGpu, parseTopology } from '../nvidia-smi';
import type { GpuInfo, PlannerNode } from '../types';
import { PlannerInputError } from './fleet-index';

const MiB = 1024 ** 2;

/** Older query captures ask for used/free/reserved but not total; nvidia-smi's total is their sum. */
function totalMiB(gpu: GpuInfo): number | null {
  if (gpu.memoryTotalMiB !== null) return gpu.memoryTotalMiB;
  const part = (key: string) => (typeof gpu.extra?.[key] === 'number' ? (gpu.extra[key] as number) : null);
  const [free, reserved] = [part('memory.free'), part('memory.reserved')];
  return gpu.memoryUsedMiB !== null && free !== null ? gpu.memoryUsedMiB + free + (reserved ?? 0) : null;
}

function readLabels(file: string, node: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new PlannerInputError(`${node}/labels.json is not valid JSON: ${(e as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed) || Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new PlannerInputError(`${node}/labels.json must be an object of string values, like {"zone": "a"}`);
  }
  return parsed as Record<string, string>;
}

/**
 * A directory with one folder per node, each holding that node's `nvidia-smi --query-gpu` capture
 * (query.csv), optionally its `topo -m` capture (topo.txt) and labels (labels.json). Memory in use in
 * the capture counts as taken; a GPU in MIG mode cannot be given whole to an engine, so it is excluded.
 */
export function loadNodeCaptures(dir: string, engines: string[] = ['vllm']): PlannerNode[] {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new PlannerInputError(`nodes directory ${dir} not found`);
  const folders = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  if (folders.length === 0) throw new PlannerInputError(`nodes directory ${dir} has no node folders (one per node, each with query.csv)`);
  return folders.map((name) => {
    const queryFile = path.join(dir, name, 'query.csv');
    if (!fs.existsSync(queryFile)) throw new PlannerInputError(`${name}: no query.csv (the output of nvidia-smi --query-gpu=... --format=csv)`);
    const gpus = parseQueryGpu(fs.readFileSync(queryFile, 'utf8'));
    const topoFile = path.join(dir, name, 'topo.txt');
    const topology = fs.existsSync(topoFile) ? parseTopology(fs.readFileSync(topoFile, 'utf8')) : null;
    return {
      name,
      healthy: true,
      labels: readLabels(path.join(dir, name, 'labels.json'), name),
      engines,
      topology,
      gpus: gpus.map((gpu) => {
        const total = totalMiB(gpu);
        if (total === null) throw new PlannerInputError(`${name}: GPU ${gpu.index} has no memory.total in query.csv`);
        return { index: gpu.index, memoryTotalBytes: total * MiB, allocatedBytes: (gpu.memoryUsedMiB ?? 0) * MiB, exclusive: gpu.mig?.enabled === true };
      }),
    };
  });
}
