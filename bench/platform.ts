// The benchmarks run on the test platform: the one `scripts/platform/up.sh` started (when
// EKS_ACCESS_PLATFORM_INFO names its info file), or one started here and stopped at the end.
import { readFile } from 'node:fs/promises';
import type { PlatformInfo } from '../test/platform/info.js';
import { startPlatform } from '../test/platform/platform.js';

export async function withPlatform<T>(work: (info: PlatformInfo) => Promise<T>): Promise<T> {
  const infoFile = process.env['EKS_ACCESS_PLATFORM_INFO'];
  if (infoFile) return work(JSON.parse(await readFile(infoFile, 'utf8')) as PlatformInfo);
  console.error('starting the test platform (or run: eval "$(scripts/platform/up.sh)")…');
  const running = await startPlatform();
  try {
    return await work(running.info);
  } finally {
    await running.stop();
  }
}
