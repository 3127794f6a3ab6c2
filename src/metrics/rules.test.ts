import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { prometheusRuleFile } from './rules.ts';

describe('PrometheusRule', () => {
  it("matches config/prometheus/rules.yaml (run 'npm run generate' after editing the rules)", () => {
    const f = prometheusRuleFile();
    const root = fileURLToPath(new URL('../..', import.meta.url));
    assert.equal(readFileSync(`${root}/${f.path}`, 'utf8'), f.content);
  });
});
