/**
 * JSON Schema (draft 2020-12) of the lab report ({@link LabReport}), as plain data: any
 * 2020-12 validator checks a report against it (the tests use ajv in strict mode).
 */
import { LAB_REPORT_VERSION, MODE_NAMES, SCENARIO_NAMES } from './report-types';

type Schema = Record<string, unknown>;

const num = { type: 'number' };
const nonNegative = { type: 'number', minimum: 0 };
const stat = { $ref: '#/$defs/stat' };
const object = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const statFields = (names: string[]) => Object.fromEntries(names.map((n) => [n, stat]));

const percentiles = object(Object.fromEntries(['p50', 'p90', 'p99', 'p999', 'max'].map((n) => [n, nonNegative])));
const latency = object(statFields(['p50', 'p90', 'p99', 'p999', 'max']));
const writeback = { enum: ['inline-flush', 'flusher-kick', 'unsupported', 'unknown'] };

/** The report's JSON Schema. */
export const LAB_REPORT_SCHEMA: Schema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  // A URN, not a URL: the schema ships inside the package and is not served from anywhere.
  $id: `urn:dontcache:lab-report:v${LAB_REPORT_VERSION}`,
  title: 'dontcache latency lab report',
  $defs: {
    stat: object({ median: num, min: num, max: num }),
    signTest: object({ trials: nonNegative, nearerBuffered: nonNegative, nearerModel: nonNegative, pValue: nonNegative }),
    calibration: object({
      scenario: { enum: [...SCENARIO_NAMES] },
      bufferedP50Us: { type: 'array', items: nonNegative },
      dontcacheP50Us: { type: 'array', items: nonNegative },
      modelP50Us: { type: 'array', items: nonNegative },
      toBuffered: stat,
      toModel: stat,
      position: { type: 'array', items: num },
      test: { $ref: '#/$defs/signTest' },
      says: { enum: ['inline-flush', 'flusher-kick', 'inconclusive'] },
      text: { type: 'string' },
    }),
    curve: { type: 'array', items: { type: 'array', items: nonNegative } },
    percentiles,
    latency,
    trial: object(
      {
        syscallUs: { anyOf: [{ $ref: '#/$defs/percentiles' }, { type: 'null' }] },
        callbackUs: { $ref: '#/$defs/percentiles' },
        eventLoopDelayP99Us: nonNegative,
        throughputMBps: nonNegative,
        cpuMs: nonNegative,
        syncMs: nonNegative,
        residencyPct: nonNegative,
        peakDirtyMiB: num,
        peakWritebackMiB: num,
        peakCachedMiB: num,
        neighbour: object({
          role: { type: 'string' },
          throughputMBps: nonNegative,
          syscallUs: { anyOf: [{ $ref: '#/$defs/percentiles' }, { type: 'null' }] },
        }),
      },
      ['syscallUs', 'callbackUs', 'eventLoopDelayP99Us', 'throughputMBps', 'cpuMs', 'syncMs', 'residencyPct', 'peakDirtyMiB', 'peakWritebackMiB', 'peakCachedMiB'],
    ),
    metrics: object(
      {
        syscallUs: { anyOf: [{ $ref: '#/$defs/latency' }, { type: 'null' }] },
        callbackUs: { $ref: '#/$defs/latency' },
        ...statFields(['eventLoopDelayP99Us', 'throughputMBps', 'cpuMs', 'syncMs', 'residencyPct', 'peakDirtyMiB', 'peakWritebackMiB', 'peakCachedMiB', 'neighbourThroughputMBps', 'neighbourSyscallP999Us']),
      },
      ['syscallUs', 'callbackUs', 'eventLoopDelayP99Us', 'throughputMBps', 'cpuMs', 'syncMs', 'residencyPct', 'peakDirtyMiB', 'peakWritebackMiB', 'peakCachedMiB'],
    ),
    mode: object(
      {
        mode: { enum: [...MODE_NAMES] },
        implementation: { type: 'string' },
        status: { enum: ['ok', 'failed', 'skipped'] },
        reason: { type: 'string' },
        strategy: { type: 'string' },
        metrics: { $ref: '#/$defs/metrics' },
        curves: object({
          syscallUs: { anyOf: [{ $ref: '#/$defs/curve' }, { type: 'null' }] },
          callbackUs: { $ref: '#/$defs/curve' },
        }),
        trials: { type: 'array', items: { $ref: '#/$defs/trial' } },
      },
      ['mode', 'implementation', 'status', 'trials'],
    ),
    scenario: object(
      {
        name: { enum: [...SCENARIO_NAMES] },
        description: { type: 'string' },
        status: { enum: ['ok', 'skipped'] },
        reason: { type: 'string' },
        params: { type: 'object', additionalProperties: { type: ['number', 'string'] } },
        modes: { type: 'array', items: { $ref: '#/$defs/mode' } },
      },
      ['name', 'description', 'status', 'params', 'modes'],
    ),
    probe: object(
      {
        kernel: { type: 'string' },
        fsType: { type: 'string' },
        dontcacheWrite: { type: 'boolean' },
        dontcacheRead: { type: 'boolean' },
        refusedWith: { type: 'string' },
        writeback,
        overwriteDropped: { type: ['boolean', 'null'] },
        overwriteEvidence: { type: 'string' },
        evidence: { type: 'array', items: { type: 'string' } },
        verdictReason: { type: 'string' },
      },
      ['kernel', 'fsType', 'dontcacheWrite', 'dontcacheRead', 'writeback', 'evidence', 'verdictReason'],
    ),
  },
  ...object(
    {
      schema: { const: 'dontcache-lab-report' },
      version: { const: LAB_REPORT_VERSION },
      createdAt: { type: 'string' },
      durationS: nonNegative,
      machine: object({ kernel: { type: 'string' }, cpus: num, memoryBytes: num, node: { type: 'string' }, uid: num }),
      dir: { type: 'string' },
      options: object({
        sizeBytes: nonNegative,
        trials: nonNegative,
        warmup: { type: 'boolean' },
        scenarios: { type: 'array', items: { enum: [...SCENARIO_NAMES] } },
        modes: { type: 'array', items: { enum: [...MODE_NAMES] } },
        full: { type: 'boolean' },
        dropCaches: { type: 'boolean' },
        sustained: { type: 'boolean' },
      }, ['sizeBytes', 'trials', 'warmup', 'scenarios', 'modes', 'full', 'dropCaches']),
      probe: { anyOf: [{ $ref: '#/$defs/probe' }, { type: 'null' }] },
      scenarios: { type: 'array', items: { $ref: '#/$defs/scenario' } },
      regime: object(
        {
          kind: { enum: ['in-memory', 'past-dirty-limits'] },
          scenario: { enum: [...SCENARIO_NAMES] },
          writtenMiB: nonNegative,
          dirtyLimitMiB: nonNegative,
          backgroundLimitMiB: nonNegative,
          bufferedPeakDirtyMiB: num,
          text: { type: 'string' },
        },
        ['kind', 'scenario', 'writtenMiB', 'dirtyLimitMiB', 'backgroundLimitMiB', 'text'],
      ),
      verdict: object(
        {
          writeback,
          measured: { anyOf: [writeback, { const: 'inconclusive' }, { type: 'null' }] },
          agrees: { type: ['boolean', 'null'] },
          reason: { type: 'string' },
          ratios: {
            type: 'array',
            items: object({ scenario: { enum: [...SCENARIO_NAMES] }, mode: { enum: [...MODE_NAMES] }, basis: { enum: ['syscall', 'callback'] }, p50: num, p999: num, throughput: num }),
          },
          notMeasured: { type: 'array', items: { type: 'string' } },
          advice: { type: 'string' },
          calibration: { type: 'array', items: { $ref: '#/$defs/calibration' } },
          placement: { $ref: '#/$defs/signTest' },
        },
        ['writeback', 'agrees', 'reason', 'ratios', 'advice'],
      ),
      interrupted: { type: 'boolean' },
    },
    ['schema', 'version', 'createdAt', 'durationS', 'machine', 'dir', 'options', 'probe', 'scenarios', 'verdict'],
  ),
};
