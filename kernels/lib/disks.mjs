// Sparse raw disk images with a fresh ext4 and XFS on them.
import path from 'node:path';
import { sh } from './sh.mjs';

export const FILE_SYSTEMS = ['ext4', 'xfs'];

export async function makeImages(dir, sizeMiB = 1024) {
  const images = {};
  for (const fs of FILE_SYSTEMS) {
    const img = path.join(dir, `${fs}.img`);
    await sh('rm', ['-f', img]);
    await sh('truncate', ['-s', `${sizeMiB}M`, img]);
    if (fs === 'ext4') await sh('/sbin/mkfs.ext4', ['-q', '-F', img]);
    else await sh('/sbin/mkfs.xfs', ['-q', '-f', img]);
    images[fs] = img;
  }
  return images;
}
