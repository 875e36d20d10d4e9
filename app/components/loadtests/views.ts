import type { RouterInputs, RouterOutputs } from '../../lib/trpc';

/** What the load-test pages draw, as the loadtests router answers it. */
export type RunView = RouterOutputs['loadtests']['get'];
export type ListRow = RouterOutputs['loadtests']['list'][number];
export type ProgressView = RunView['progress'];
export type SummaryView = NonNullable<RunView['summary']>;
/** A whole run's figures or one stage's of a sweep. */
export type StageSummary = NonNullable<SummaryView['stages']>[number]['summary'];
export type Dist = NonNullable<SummaryView['ttftMs']>;
export type HistogramSet = Omit<RouterOutputs['loadtests']['histograms'], 'samples'>;
export type Metric = keyof HistogramSet;
export type CompareRun = RouterOutputs['loadtests']['compare'][number];
export type CreateInput = RouterInputs['loadtests']['create'];

export const ms = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 2 : 1)} ms`);
export const num = (v: number | null | undefined, digits = 2) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
