import { expect, test } from 'vitest';
import { nvidiaSmiFixture } from './fixtures';
import { COMPUTE_APPS_FIELDS, parseComputeApps } from '.';


test('H100 capture: three processes with their memory', () => {
  const uuid = 'GPU-00000000-0000-0000-0000-000000000000';
  expect(parseComputeApps(nvidiaSmiFixture('compute-apps/h100-80gb-three-processes.csv'))).toEqual([
    { gpuUuid: uuid, pid: 21180, name: '/root/tools/memhog', usedMiB: 2296 },
    { gpuUuid: uuid, pid: 21181, name: '/root/tools/memhog', usedMiB: 1272 },
    { gpuUuid: uuid, pid: 21198, name: './gpu_burn', usedMiB: 7484 },
  ]);
});

test('nounits, noheader with fields, aliases, missing memory and no processes', () => {
  const text = 'GPU-a, 42, python3, 1000\nGPU-b, 43, vllm, [N/A]\n';
  expect(parseComputeApps(text, { fields: COMPUTE_APPS_FIELDS })).toEqual([
    { gpuUuid: 'GPU-a', pid: 42, name: 'python3', usedMiB: 1000 },
    { gpuUuid: 'GPU-b', pid: 43, name: 'vllm', usedMiB: null },
  ]);
  expect(parseComputeApps('pid, name, used_memory [MiB]\n7, trainer, 512\n')).toEqual([{ gpuUuid: null, pid: 7, name: 'trainer', usedMiB: 512 }]);
  expect(parseComputeApps('gpu_uuid, pid, process_name, used_gpu_memory [MiB]\n')).toEqual([]);
  expect(parseComputeApps('No running processes found\n')).toEqual([]);
});
