const rss = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().rss / 2**20; };
let last = rss();
console.log('base', last.toFixed(1));
for (const m of process.argv.slice(2)) {
  if (m === 'protos') { await import('/work/wt/startup/dist/transports/grpc/protos.js'); }
  else await import(m);
  await new Promise(r => setTimeout(r, 200));
  const now = rss(); console.log(m, '+' + (now - last).toFixed(1)); last = now;
}
