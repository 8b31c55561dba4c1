/**
 * Entry of the configuration check process (`check-process.ts`): `node check-main <file>
 * <multiapp|single>` with an IPC channel. Runs `checkServeConfig`, sends one `CheckReply` and
 * exits.
 */
import { ConfigError } from '../errors.js';
import { configureLogging, systemInfo } from '../log/index.js';
import type { CheckReply } from './check-process.js';
import { checkServeConfig } from './validate.js';

async function check(file: string, multiapp: boolean): Promise<CheckReply> {
  try {
    const check = await checkServeConfig(file, multiapp);
    return { ok: true, check, system: await systemInfo() };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems, file: err.file };
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

// Warnings the build logs are the workers' to log (the parent ignores this stdout anyway).
configureLogging({ level: 'silent' });
const [file, mode] = process.argv.slice(2);
if (file === undefined || process.send === undefined) {
  process.stderr.write('check-main: run by the serve master only\n');
  process.exit(2);
}
// A master that dies meanwhile must not leave this behind. Not process.exit(): it waits for the
// thread pool, and a read stuck on a hung file system or a FIFO would keep this process for good.
process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
const reply = await check(file, mode === 'multiapp');
// Exit once the answer is written: handles the build may have left must not keep this alive.
process.send(reply, () => process.exit(0));
