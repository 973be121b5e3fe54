import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTf, tfFiles } from './hcl.js';

describe('terraform files', () => {
  it('every .tf file under terraform/ parses as HCL', async () => {
    const files = tfFiles();
    assert.ok(files.length >= 12, `only ${files.length} .tf files found`);
    const broken: string[] = [];
    for (const f of files) {
      await parseTf(f).catch((err: unknown) => broken.push(`${f}: ${(err as Error).message}`));
    }
    assert.deepEqual(broken, []);
  });

  it('the parser refuses broken HCL (so the test above can fail)', async () => {
    const { parse } = await import('@cdktf/hcl2json');
    await assert.rejects(parse('broken.tf', 'resource "a" "b" {\n  name = \n}\n'), /Invalid expression/);
  });
});
