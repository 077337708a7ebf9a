// Where the harness keeps things: the download cache (outside the repo) and the repo itself.
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const kernelsDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const repoRoot = path.dirname(kernelsDir);

export function cacheDir() {
  if (process.env.DONTCACHE_KERNELS_CACHE) return path.resolve(process.env.DONTCACHE_KERNELS_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  const dir = path.join(base, 'dontcache-kernels');
  const rel = path.relative(repoRoot, dir);
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) throw new Error(`cache dir ${dir} is inside the repo`);
  return dir;
}
