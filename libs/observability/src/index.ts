export { createLogger, scrubPersonalData, type Logger, type LoggerOptions } from './logger.js';
export { isRedactedKey, scrubString } from './scrub.js';
export { ServiceMetrics, registerHttpMetrics, isSafeLabelValue } from './metrics.js';
export {
  initTracing,
  injectTraceHeaders,
  extractTraceContext,
  getTracer,
  withSpan,
  type TracingOptions,
  type TracingHandle,
  type SpanOptions,
} from './tracing.js';
