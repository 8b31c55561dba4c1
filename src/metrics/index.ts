/**
 * Public face of the metrics folder: Prometheus metrics of a serving process fed from the
 * diagnostics channels, their sum over a node:cluster pool in the master, readiness for `/readyz`,
 * and an optional metrics-only HTTP server. Beyond MapProxy (ARCHITECTURE.md, "Beyond MapProxy").
 */
export {
  PROMETHEUS_CONTENT_TYPE,
  enableDefaultMetrics,
  processMetrics,
  renderLocalMetrics,
  resetMetrics,
  workerMetricsRegistry,
  type ProcessMetrics,
} from './registry.js';
export { installMetrics, metricsInstalled, uninstallMetrics, upstreamLabel, type InstallMetricsOptions } from './install.js';
export { clusterMetricsEnabled, clusterMetricsFromMaster, installClusterResponder, renderMetrics, sendFinalMetrics } from './worker.js';
export {
  COLLECT_TIMEOUT_MS,
  MetricsAggregator,
  countWorkerRestart,
  createMetricsAggregator,
  renderClusterMetrics,
  type RestartReason,
} from './cluster.js';
export { cacheDirsOf, isReady, isWritableDir, notWritable, setReady, type CacheDirsSource } from './health.js';
export { serveMetrics, type MetricsServerOptions } from './server.js';
export { CLUSTER_METRICS_ENV, type MetricJson } from './protocol.js';
export {
  CHANNELS,
  type CacheCreatedMessage,
  type CacheEventMessage,
  type HttpRequestMessage,
  type LockWaitMessage,
  type UpstreamRequestMessage,
} from './channels.js';
