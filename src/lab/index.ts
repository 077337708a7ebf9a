/** The latency lab: `runLab`, its report type and schema, and the report's terminal and HTML forms. */
export { runLab, DEFAULT_SIZE_BYTES, DEFAULT_TRIALS, DEFAULT_SUSTAINED_TRIALS, type LabOptions, type LabProgress } from './runner';
export { LAB_REPORT_SCHEMA } from './schema';
export { formatReportTable } from './table';
export { renderReportHtml } from './html';
export { SCENARIO_NAMES, DEFAULT_SCENARIOS, MODE_NAMES, LAB_REPORT_VERSION } from './report-types';
export { dirtyLimits, sustainedBytes, type DirtyLimits } from './regime';
export type * from './report-types';
