// The lab report's JSON Schema (src/lab/schema.ts, plain data) checked by a real
// validator: ajv for draft 2020-12 in strict mode, so that a keyword it does not know,
// NaN or Infinity fail instead of passing unseen. allowUnionTypes: the schema uses
// type arrays such as ['boolean', 'null'], which are standard JSON Schema.
import Ajv2020 from 'ajv/dist/2020';
import { LAB_REPORT_SCHEMA } from '../../src/lab/schema';

export function labSchemaValidator() {
  return new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true }).compile(LAB_REPORT_SCHEMA);
}

const validate = labSchemaValidator();

/** What is wrong with `report`, one '$.path: problem' per error; empty when it is valid. */
export function validateLabReport(report: unknown): string[] {
  if (validate(report)) return [];
  return (validate.errors ?? []).map((e) => {
    const at = `$${e.instancePath.replace(/\//g, '.')}`;
    if (e.keyword === 'required') return `${at}.${(e.params as { missingProperty: string }).missingProperty}: is required`;
    return `${at}: ${e.message}`;
  });
}
