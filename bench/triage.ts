import type { BenchResult } from './report.js';
import type { BenchContext } from './timing.js';
export async function benchTriage(_bc: BenchContext): Promise<BenchResult> {
  throw new Error('not yet');
}
