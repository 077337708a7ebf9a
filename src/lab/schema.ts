/**
 * JSON Schema (draft 2020-12) of the lab report ({@link LabReport}), and a small
 * validator for the subset of keywords it uses (type, const, enum, minimum,
 * properties, required, additionalProperties, items, $ref to $defs), so that the
 * package needs no schema library.
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

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function resolve(schema: Schema, root: Schema): Schema {
  const ref = schema.$ref as string | undefined;
  if (!ref) return schema;
  const name = ref.replace('#/$defs/', '');
  return (root.$defs as Record<string, Schema>)[name];
}

function check(value: unknown, schemaIn: Schema, root: Schema, at: string, errors: string[]): void {
  const schema = resolve(schemaIn, root);
  if (schema.anyOf) {
    const options = schema.anyOf as Schema[];
    if (!options.some((s) => { const e: string[] = []; check(value, s, root, at, e); return e.length === 0; })) {
      errors.push(`${at}: matches none of the allowed shapes`);
    }
    return;
  }
  if ('const' in schema && value !== schema.const) errors.push(`${at}: must be ${JSON.stringify(schema.const)}`);
  if (schema.enum && !(schema.enum as unknown[]).includes(value)) errors.push(`${at}: must be one of ${JSON.stringify(schema.enum)}`);
  if (schema.type) {
    const types = ([] as string[]).concat(schema.type as string | string[]);
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === 'number' && types.includes('integer'))) {
      errors.push(`${at}: must be ${types.join(' or ')}, is ${actual}`);
      return;
    }
    if (actual === 'number' && !Number.isFinite(value as number)) errors.push(`${at}: must be a finite number`);
  }
  if (typeof schema.minimum === 'number' && typeof value === 'number' && value < schema.minimum) errors.push(`${at}: must be >= ${schema.minimum}`);
  if (typeOf(value) === 'array' && schema.items) (value as unknown[]).forEach((v, i) => check(v, schema.items as Schema, root, `${at}[${i}]`, errors));
  if (typeOf(value) === 'object') {
    const record = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const name of (schema.required ?? []) as string[]) if (!(name in record)) errors.push(`${at}.${name}: is required`);
    for (const [name, v] of Object.entries(record)) {
      if (properties[name]) check(v, properties[name], root, `${at}.${name}`, errors);
      else if (schema.additionalProperties === false) errors.push(`${at}.${name}: is not allowed`);
      else if (typeof schema.additionalProperties === 'object') check(v, schema.additionalProperties as Schema, root, `${at}.${name}`, errors);
    }
  }
}

/** Checks `report` against {@link LAB_REPORT_SCHEMA}: the list of problems, empty when it is valid. */
export function validateLabReport(report: unknown): string[] {
  const errors: string[] = [];
  check(report, LAB_REPORT_SCHEMA, LAB_REPORT_SCHEMA, '$', errors);
  return errors;
}
