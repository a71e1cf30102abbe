/**
 * A CPU profiler preloaded with NODE_OPTIONS=--require (where --cpu-prof is not allowed): every
 * thread that loads it profiles itself and writes `<LINNET_CPU_PROF_DIR>/thread-<id>.cpuprofile`
 * when it exits (or on demand, on SIGUSR2 in the main thread, which asks the workers too).
 * Used by perf-run.ts to profile the proxy in its pod.
 */
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const dir = process.env.LINNET_CPU_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  let written = false;
  const write = () => {
    if (written) return;
    written = true;
    // A same-thread session answers synchronously, so this works inside an 'exit' handler.
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `thread-${threadId}.cpuprofile`), JSON.stringify(res.profile));
    });
  };
  process.on('exit', write);
  // The hot thread is a worker that may be terminated rather than exit: dump on a timer-less signal file.
  const interval = setInterval(() => {
    try {
      require('node:fs').accessSync(join(dir, 'STOP'));
      write();
      clearInterval(interval);
    } catch {
      // not yet
    }
  }, 500);
  interval.unref();
}
