#!/usr/bin/env node
// `npx portcullis …`: package.json "bin" points here because a bin cannot be a .ts file. Node 24 runs src/ as it
// is (type stripping), so this shim only checks the version and loads the real entry point.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`portcullis needs Node 24 or newer (this is ${process.version})\n`);
  process.exit(1);
}
await import('../src/main.ts');
