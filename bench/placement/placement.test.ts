import { expect, test } from 'vitest';
import { FleetIndex, placeAndCommit } from '../../server/gpu/planner';
import { seededRandom } from '../../server/gpu/planner/testing/prng';
import { fragmentation } from './fragmentation';
import { compareWithExhaustive } from './small-instances';
import { mixedRequest, simulatedFleet, type WorkloadRequest } from './workload';

test('small instances: the planner decides as well as the exhaustive search', () => {
  const small = compareWithExhaustive(8);
  expect(small.decisionsMatchingExhaustive).toBe(1);
  expect(small.placedBytesGapWorst).toBeLessThanOrEqual(0.05);
});

test('fragmentation counts the free GPUs no rejected request can use', () => {
  const rng = seededRandom(3);
  const index = new FleetIndex(simulatedFleet(rng, 4));
  const rejected: WorkloadRequest[] = [];
  for (let i = 0; i < 60; i++) {
    const request = { ...mixedRequest(rng), explain: false };
    if (!placeAndCommit(index, request).feasible) rejected.push(request);
  }
  expect(rejected.length).toBeGreaterThan(0);
  const f = fragmentation(index, rejected);
  expect(f.unusableFreeGpus).toBeLessThanOrEqual(f.freeGpus);
  expect(f.idleGpus).toBeLessThanOrEqual(f.freeGpus);
  // Nothing pending: every GPU with free memory is usable by no pending request.
  expect(fragmentation(index, []).unusableFreeGpus).toBe(f.freeGpus);
});
