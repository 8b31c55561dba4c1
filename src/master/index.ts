/**
 * The master folder's public face: the `serve` cluster supervisor and its parts (configuration
 * check in a child process, restart policy, readiness notifications, pid file).
 */
export { DEFAULT_THREADPOOL_SIZE, MAX_THREADPOOL_SIZE, runMaster, workerExecArgv, workerMallocEnv, workerThreadpoolSize, type MasterOptions } from './master.js';
export { CHECK_TIMEOUT_MS, checkConfigInChild, checkExecArgv, type ChildCheck, type ChildCheckOptions } from './check-process.js';
export { RestartPolicy, type CrashVerdict, type RestartPolicyOptions } from './backoff.js';
export { notifyParentReady, notifySystemd, monotonicUsec } from './notify.js';
export { writePidFile, removePidFile, PidFileInUseError } from './pid-file.js';
