/**
 * The directory watch on a real file system: what a Kubernetes ConfigMap update and an editor do, and what must not
 * trigger a reload.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchFileDirectory } from '../../src/lifecycle/watch.ts';

let close: (() => void) | undefined;
afterEach(() => close?.());

function watching(path: string) {
  let calls = 0;
  const waiters: (() => void)[] = [];
  close = watchFileDirectory(path, () => {
    calls++;
    waiters.splice(0).forEach((w) => w());
  }, { debounceMs: 50 });
  return {
    calls: () => calls,
    next: () => new Promise<void>((resolve) => waiters.push(resolve)),
    /** Long enough for an event plus the debounce to have fired. */
    settle: () => new Promise((r) => setTimeout(r, 400)),
  };
}

describe('watchFileDirectory', () => {
  it('sees the ..data symlink swap of a mounted ConfigMap once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-watch-'));
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'c.yaml'), 'a: 1\n');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync('..data/c.yaml', join(dir, 'c.yaml'));
    const w = watching(join(dir, 'c.yaml'));
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'c.yaml'), 'a: 2\n');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    const changed = w.next();
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    await changed;
    await w.settle();
    expect(w.calls()).toBe(1);
  });

  it('sees an in-place write and an editor-style replace by rename', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-watch-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'a: 1\n');
    const w = watching(file);
    let changed = w.next();
    writeFileSync(file, 'a: 22\n');
    await changed;
    changed = w.next();
    writeFileSync(join(dir, '.c.yaml.swp'), 'a: 333\n');
    renameSync(join(dir, '.c.yaml.swp'), file);
    await changed;
    expect(w.calls()).toBe(2);
  });

  it('is not triggered by reading the file or by changes to other files in the directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-watch-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'a: 1\n');
    const w = watching(file);
    readFileSync(file);
    writeFileSync(join(dir, 'jwks.json'), '{}');
    writeFileSync(join(dir, 'jwks.json'), '{"keys":[]}');
    await w.settle();
    expect(w.calls()).toBe(0);
  });
});
