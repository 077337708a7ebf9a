// kernels/lib/apt.mjs reads the machine's own apt sources (deb822 and one-line) and never assumes an
// archive host: with no Debian source it fails with a message that says what was looked at.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

interface Entry { uri: string; suites: string[]; signedBy?: string }
interface Apt {
  readAptSources(etc: string): Entry[];
  machineArchives(etc: string): Record<string, { uri: string; signedBy?: string }>;
}

let apt: Apt;
const dirs: string[] = [];
beforeAll(async () => {
  apt = (await import(pathToFileURL(path.join(__dirname, '..', '..', 'kernels', 'lib', 'apt.mjs')).href)) as Apt;
});
afterEach(() => { while (dirs.length) fs.rmSync(dirs.pop()!, { recursive: true, force: true }); });

function etc(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dontcache-apt-etc-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

// Example hosts only (RFC 2606 names): the repository holds no real archive host.
describe('machine apt sources', () => {
  it('reads deb822 stanzas: the main and the security archive, skipping deb-src, disabled and third-party ones', () => {
    const dir = etc({
      'sources.list.d/debian.sources': [
        'Types: deb-src\nURIs: http://src.example\nSuites: bookworm\nComponents: main\n',
        'Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n',
        'Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /k/main.gpg\n',
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\nSigned-By: /k/sec.gpg\n',
      ].join('\n'),
      'sources.list.d/vendor.sources': 'Types: deb\nURIs: http://vendor.example/repo\nSuites: nodistro\nComponents: main\n',
    });
    expect(apt.machineArchives(dir)).toMatchObject({
      main: { uri: 'http://mirror.example/debian', signedBy: '/k/main.gpg' },
      security: { uri: 'http://mirror.example/debian-security', signedBy: '/k/sec.gpg' },
    });
  });

  it('reads one-line sources.list entries with options', () => {
    const dir = etc({
      'sources.list': '# deb http://commented.example/debian sid main\ndeb [arch=amd64 signed-by=/k/x.gpg] http://line.example/debian trixie main\n',
    });
    expect(apt.readAptSources(dir)).toEqual([expect.objectContaining({ uri: 'http://line.example/debian', suites: ['trixie'], signedBy: '/k/x.gpg' })]);
    expect(apt.machineArchives(dir).main.uri).toBe('http://line.example/debian');
  });

  it('fails clearly when there is no Debian source, naming where it looked', () => {
    const dir = etc({ 'sources.list.d/vendor.sources': 'Types: deb\nURIs: http://vendor.example/repo\nSuites: nodistro\n' });
    expect(() => apt.machineArchives(dir)).toThrow(/no Debian archive in this machine's apt sources \(.*sources\.list/);
    expect(() => apt.machineArchives(path.join(dir, 'missing'))).toThrow(/no Debian archive/);
  });

  it('names no archive host in the module', () => {
    const text = fs.readFileSync(path.join(__dirname, '..', '..', 'kernels', 'lib', 'apt.mjs'), 'utf8');
    expect(text).not.toMatch(/https?:\/\/[a-z]/i);
  });
});

describe('apt messages in reports', () => {
  it('name no archive URI', async () => {
    const { withoutHosts } = (await import(pathToFileURL(path.join(__dirname, '..', '..', 'kernels', 'lib', 'apt.mjs')).href)) as { withoutHosts(t: string): string };
    expect(withoutHosts('Err:1 http://mirror.example/debian sid InRelease | E: Failed to fetch https://a.example/x.deb 404'))
      .toBe('Err:1 <archive> sid InRelease | E: Failed to fetch <archive> 404');
  });
});
