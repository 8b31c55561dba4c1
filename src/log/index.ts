/**
 * Logging: one pino root logger and named child loggers as MapProxy names them
 * (`mapproxy.system`, `mapproxy.config`, `mapproxy.source.<type>`, `mapproxy.source.request`,
 * `mapproxy.cache`, plus `mapproxy.access`). JSON lines on stdout at `info` until
 * `configureLogging` / `configureLoggingFromFile` say otherwise; per-logger levels, rotating files
 * (one series per process), pretty output for serve-develop, and an optional access log.
 * Hot paths check `logger.isLevelEnabled` before building log objects.
 */
export {
  ACCESS_LOGGER,
  LEVELS,
  LOG_FORMAT_ENV,
  closeLogging,
  configureLogging,
  getLogger,
  parseLogFormat,
  setLogFormat,
  type LevelName,
  type LogFormat,
  type LoggingOptions,
} from './logger.js';
export { applyLogConfig, configureLoggingFromFile, currentLogFile, loadLogConfig, parseLogConfig, type LogConfig } from './config.js';
export { openLogFile, slotFileName, type LogFile, type LogFileOptions } from './file.js';
export { accessLogOn, createAccessLog, DEFAULT_ACCESS_EXCLUDE, type AccessLogFields, type AccessLogHook } from './access.js';
export { formatPretty, prettyStream, showPids } from './pretty.js';
export { logSystemInfo, systemInfo, type SystemInfo } from './system.js';
