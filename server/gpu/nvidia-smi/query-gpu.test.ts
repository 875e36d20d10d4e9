import { describe, expect, test } from 'vitest';
import { nvidiaSmiFixture } from './fixtures';
import { hostVersions, INVENTORY_QUERY_FIELDS, MISSING_MARKERS, NvidiaSmiParseError, parseQueryGpu } from '.';

const capture = (name: string) => nvidiaSmiFixture(`query-gpu/${name}`);

describe('real captures', () => {
  test('Tesla P100 (nounits, no index or memory.total column, fan [N/A])', () => {
    const [gpu, ...rest] = parseQueryGpu(capture('tesla-p100-pcie-16gb.csv'));
    expect(rest).toEqual([]);
    expect(gpu).toEqual({
      index: 0,
      name: 'Tesla P100-PCIE-16GB',
      uuid: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6',
      memoryTotalMiB: null,
      memoryUsedMiB: 0,
      utilizationPct: 0,
      temperatureC: 37,
      powerW: 28.16,
      extra: { pstate: 'P0', 'memory.free': 16280, 'memory.reserved': 103, 'utilization.memory': 0, 'fan.speed': null, 'clocks.current.sm': 405 },
    });
    expect(gpu!.mig).toBeUndefined();
  });

  test('H100 with MIG, driver 590, about 250 fields with units in the values', () => {
    const gpus = parseQueryGpu(capture('h100-80gb-mig-driver590.csv'));
    expect(gpus).toHaveLength(1);
    const gpu = gpus[0]!;
    expect(gpu).toMatchObject({
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-00000000-0000-0000-0000-000000000000',
      memoryTotalMiB: 81559,
      memoryUsedMiB: 11125,
      utilizationPct: null, // [N/A] under MIG
      temperatureC: 53,
      powerW: 433.78,
      mig: { enabled: true },
    });
    expect(gpu.extra).toMatchObject({
      driver_version: '590.48.01',
      'pci.bus_id': '00000000:00:09.0',
      compute_cap: '9.0',
      'memory.free': 69956,
      'memory.reserved': 479,
      'power.limit': 700,
      'temperature.memory': 59,
      'mig.mode.current': 'Enabled',
      'fan.speed': null,
    });
    expect(hostVersions(gpus)).toEqual({ driverVersion: '590.48.01', cudaVersion: null });
    // No value anywhere is NaN or a marker string.
    for (const value of [...Object.values(gpu), ...Object.values(gpu.extra!)]) {
      expect(Number.isNaN(value)).toBe(false);
      if (typeof value === 'string') expect(value).not.toMatch(/^\[|N\/A/);
    }
  });
});

describe('synthetic variants', () => {
  const header = 'index, name, uuid, memory.total [MiB], memory.used [MiB], utilization.gpu [%], temperature.gpu, power.draw [W], driver_version, mig.mode.current';
  const withUnits = '0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 81920 MiB, 1024 MiB, 35 %, 41, 69.63 W, 550.54.15, Disabled';
  const noUnits = '0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 81920, 1024, 35, 41, 69.63, 550.54.15, Disabled';
  const expected = {
    index: 0,
    name: 'NVIDIA A100-SXM4-80GB',
    uuid: 'GPU-aaaa',
    memoryTotalMiB: 81920,
    memoryUsedMiB: 1024,
    utilizationPct: 35,
    temperatureC: 41,
    powerW: 69.63,
    mig: { enabled: false },
  };

  test('units in values and nounits give the same numbers', () => {
    expect(parseQueryGpu(`${header}\n${withUnits}\n`)[0]).toMatchObject(expected);
    expect(parseQueryGpu(`${header}\r\n${noUnits}\r\n`)[0]).toMatchObject(expected);
  });

  test('noheader with the caller naming the fields (and a header line matching them is skipped)', () => {
    const rows = `${noUnits}\n${noUnits.replace(/^0, /, '1, ').replace('GPU-aaaa', 'GPU-bbbb')}`;
    const gpus = parseQueryGpu(rows, { fields: INVENTORY_QUERY_FIELDS });
    expect(gpus.map((g) => [g.index, g.uuid, g.memoryTotalMiB])).toEqual([[0, 'GPU-aaaa', 81920], [1, 'GPU-bbbb', 81920]]);
    expect(parseQueryGpu(`${header}\n${noUnits}`, { fields: INVENTORY_QUERY_FIELDS })).toHaveLength(1);
  });

  test('columns are matched by name, in any order, with nvidia-smi aliases', () => {
    const [gpu] = parseQueryGpu('memory.used [MiB], gpu_name, index, gpu_uuid\n12 MiB, Tesla T4, 3, GPU-t4\n');
    expect(gpu).toMatchObject({ index: 3, name: 'Tesla T4', uuid: 'GPU-t4', memoryUsedMiB: 12, memoryTotalMiB: null, powerW: null });
  });

  test.each([...MISSING_MARKERS, '[GPU requires reset]', ''])('missing marker %j becomes null, never NaN', (marker) => {
    const row = `0, ${marker}, ${marker}, ${marker}, ${marker}, ${marker}, ${marker}, ${marker}, ${marker}, ${marker}`;
    const [gpu] = parseQueryGpu(`${header}\n${row}`);
    expect(gpu).toEqual({
      index: 0,
      name: null,
      uuid: null,
      memoryTotalMiB: null,
      memoryUsedMiB: null,
      utilizationPct: null,
      temperatureC: null,
      powerW: null,
      extra: { driver_version: null, 'mig.mode.current': null },
    });
  });

  test('MIG device rows (UUID MIG-...) are slices of their parent GPU', () => {
    const [gpu] = parseQueryGpu('index, uuid, gpu_uuid\n0, MIG-0c8f4e28-1f0b-5b2a-8b4e-5c9b1a2d3e4f, GPU-parent\n');
    expect(gpu!.mig).toEqual({ enabled: true, parentUuid: 'GPU-parent' });
  });

  test('empty output is no GPUs; a row that does not fit the header is a clear error', () => {
    expect(parseQueryGpu('')).toEqual([]);
    expect(parseQueryGpu(`${header}\n`)).toEqual([]);
    expect(() => parseQueryGpu(`${header}\n0, A100`)).toThrow(NvidiaSmiParseError);
    expect(() => parseQueryGpu(`${header}\n0, A100`)).toThrow(/line 2 has 2 values but there are 10 columns/);
  });
});
