export { createLogger, scrubPersonalData, type Logger, type LoggerOptions } from './logger.js';
export { scrubString } from './scrub.js';
export { ServiceMetrics, registerHttpMetrics, isSafeLabelValue } from './metrics.js';
export {
  initTracing,
  injectTraceHeaders,
  extractTraceContext,
  withSpan,
  type TracingOptions,
  type TracingHandle,
  type SpanOptions,
} from './tracing.js';
export { registerHttpTracing } from './tracing-http.js';
export {
  METRIC_CATALOGUE,
  PROCESS_DEFAULT_METRICS,
  SUPERVISOR_METRICS,
  catalogued,
  catalogueViolations,
  labelAllowed,
  queryableMetricNames,
  seriesNames,
  type LabelRule,
  type MetricDefinition,
  type MetricType,
} from './metric-catalogue.js';
