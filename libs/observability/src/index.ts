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
