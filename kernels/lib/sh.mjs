// Run a command, collect its output; reject with the stderr tail on a non-zero exit.
import { spawn } from 'node:child_process';

export function sh(cmd, args, { cwd, env, input, allowFail = false, timeoutMs } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: env ? { ...process.env, ...env } : process.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    if (input !== undefined) { child.stdin.on('error', () => {}); child.stdin.end(input); }
    const out = [], err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const timer = timeoutMs ? setTimeout(() => child.kill('SIGKILL'), timeoutMs) : null;
    child.on('error', (e) => { if (timer) clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const r = { code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code !== 0 && !allowFail) {
        const e = new Error(`${cmd} ${args.join(' ')} exited ${code ?? signal}: ${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
        Object.assign(e, r);
        reject(e);
      } else resolve(r);
    });
  });
}

/** Path of an executable on PATH (plus the sbin directories), or null. */
export async function which(name) {
  const r = await sh('sh', ['-c', `PATH="$PATH:/usr/sbin:/sbin" command -v ${name}`], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : null;
}
