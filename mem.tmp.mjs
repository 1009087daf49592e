import v8 from 'node:v8';
await import('./dist/main.js');
setTimeout(() => {
  const f = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, (v / 2**20).toFixed(1)]));
  process.stderr.write('MEM before gc ' + JSON.stringify(f(process.memoryUsage())) + '\n');
  globalThis.gc?.();
  process.stderr.write('MEM after gc ' + JSON.stringify(f(process.memoryUsage())) + '\n');
  for (const s of v8.getHeapSpaceStatistics()) process.stderr.write(`SPACE ${s.space_name} size ${(s.space_size/2**20).toFixed(1)} used ${(s.space_used_size/2**20).toFixed(1)} phys ${(s.physical_space_size/2**20).toFixed(1)}\n`);
  process.exit(0);
}, 2500);
