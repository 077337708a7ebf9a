// The lab report's JSON Schema as published (LAB_REPORT_SCHEMA from dontcache/lab): plain
// data that a real JSON Schema 2020-12 validator (ajv, strict) accepts, and that tells
// a valid report from broken ones. Real reports are checked in test/latency/lab.test.ts.
import { describe, expect, it } from 'vitest';
import { LAB_REPORT_SCHEMA } from '../src/lab';
import { LAB_REPORT_VERSION, MODE_NAMES, SCENARIO_NAMES } from '../src/lab/report-types';
import { labSchemaValidator, validateLabReport } from './helpers/lab-schema';

const stat = (v: number) => ({ median: v, min: v, max: v });
const latency = { p50: stat(10), p90: stat(20), p99: stat(30), p999: stat(40), max: stat(50) };
const percentiles = { p50: 10, p90: 20, p99: 30, p999: 40, max: 50 };

/** A small report of the shape runLab gives: one scenario, one mode, one trial. */
function report(): Record<string, any> {
  return {
    schema: 'dontcache-lab-report',
    version: LAB_REPORT_VERSION,
    createdAt: '2026-12-02T00:00:00.000Z',
    durationS: 12.5,
    machine: { kernel: '6.18.0', cpus: 2, memoryBytes: 2 ** 34, node: 'v20.20.2', uid: 0 },
    dir: '/tmp',
    options: { sizeBytes: 2 ** 24, trials: 1, warmup: false, scenarios: ['seq-write'], modes: ['dontcache'], full: false, dropCaches: false },
    probe: null,
    scenarios: [{
      name: 'seq-write',
      description: '1 MiB sequential writes',
      status: 'ok',
      params: { blockBytes: 2 ** 20, pattern: 'seq' },
      modes: [{
        mode: 'dontcache',
        implementation: 'pwritev2(RWF_DONTCACHE)',
        status: 'ok',
        metrics: {
          syscallUs: latency, callbackUs: latency,
          ...Object.fromEntries(['eventLoopDelayP99Us', 'throughputMBps', 'cpuMs', 'syncMs', 'residencyPct', 'peakDirtyMiB', 'peakWritebackMiB', 'peakCachedMiB'].map((k) => [k, stat(1)])),
        },
        curves: { syscallUs: [[0.5, 10], [1, 50]], callbackUs: [[0.5, 12], [1, 60]] },
        trials: [{
          syscallUs: percentiles, callbackUs: percentiles, eventLoopDelayP99Us: 100, throughputMBps: 900, cpuMs: 20, syncMs: 1,
          residencyPct: 0, peakDirtyMiB: 1, peakWritebackMiB: 1, peakCachedMiB: -3,
        }],
      }],
    }],
    verdict: { writeback: 'inline-flush', measured: null, agrees: null, reason: 'the probe', ratios: [], advice: 'use it' },
  };
}

describe('LAB_REPORT_SCHEMA', () => {
  it('is plain JSON data (what JSON.stringify writes is the schema itself)', () => {
    expect(JSON.parse(JSON.stringify(LAB_REPORT_SCHEMA))).toEqual(LAB_REPORT_SCHEMA);
    expect(LAB_REPORT_SCHEMA.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(LAB_REPORT_SCHEMA.$id).toBe(`urn:dontcache:lab-report:v${LAB_REPORT_VERSION}`);
  });

  it('compiles under ajv in strict mode: every keyword is one JSON Schema 2020-12 knows', () => {
    expect(() => labSchemaValidator()).not.toThrow();
  });

  it('names every scenario and mode the lab has', () => {
    const defs = LAB_REPORT_SCHEMA.$defs as Record<string, any>;
    expect(defs.scenario.properties.name.enum).toEqual([...SCENARIO_NAMES]);
    expect(defs.mode.properties.mode.enum).toEqual([...MODE_NAMES]);
  });

  it('accepts a report of the shape runLab gives', () => {
    expect(validateLabReport(report())).toEqual([]);
  });

  it.each<[string, (r: Record<string, any>) => void, string]>([
    ['a missing field', (r) => delete r.verdict, '$.verdict: is required'],
    ['another schema name', (r) => (r.schema = 'x'), '$.schema: must be equal to constant'],
    ['another version', (r) => (r.version = LAB_REPORT_VERSION + 1), '$.version: must be equal to constant'],
    ['an unknown mode', (r) => (r.scenarios[0].modes[0].mode = 'mmap'), '$.scenarios.0.modes.0.mode: must be equal to one of the allowed values'],
    ['a field the schema does not have', (r) => (r.scenarios[0].modes[0].metrics.extra = stat(1)), '$.scenarios.0.modes.0.metrics: must NOT have additional properties'],
    ['a negative throughput', (r) => (r.scenarios[0].modes[0].trials[0].throughputMBps = -1), '$.scenarios.0.modes.0.trials.0.throughputMBps: must be >= 0'],
    ['NaN', (r) => (r.scenarios[0].modes[0].trials[0].cpuMs = Number.NaN), '$.scenarios.0.modes.0.trials.0.cpuMs: must be number'],
    ['a string for a number', (r) => (r.durationS = '12'), '$.durationS: must be number'],
    ['a probe of the wrong shape', (r) => (r.probe = { kernel: 1 }), '$.probe: must match a schema in anyOf'],
  ])('rejects %s', (_, breakIt, problem) => {
    const r = report();
    breakIt(r);
    expect(validateLabReport(r)).toContain(problem);
  });
});
