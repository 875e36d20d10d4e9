import { startOpenAIDouble } from '../../server/testing/openai-double';
import { serveBenchChild } from './child';

/** The engine double at the benchmark's pace, in a process of its own. Argv: firstTokenMs interTokenMs tokens. */
const [first = '20', gap = '20', tokens = '16'] = process.argv.slice(2);
const engine = await startOpenAIDouble({ firstTokenMs: Number(first), interTokenMs: Number(gap), tokens: Number(tokens) });
serveBenchChild(engine.port, () => engine.close());
