import { withXsWorker, evaluateEntry } from '/work/main/tools/xs/run';
await withXsWorker(async (w) => {
  const r = await evaluateEntry(w, '/work/main/bench/xs-codec-entry.ts');
  console.log('bundle', r.bytes, r.meter);
  for (const name of ['publish-qos1-256B', 'connect', 'puback']) {
    for (const op of ['encodeLoop', 'decodeLoop']) {
      const res: number[] = [];
      for (const n of [0, 100, 200, 1000, 10000]) {
        await w.evaluate('gc()');
        const b = await w.evaluate('');
        const a = await w.evaluate(`codecBench.${op}(${JSON.stringify(name)}, ${n})`);
        res.push(n, a.meter.compute, a.meter.currentHeapCount - b.meter.currentHeapCount, a.meter.allocate - b.meter.allocate);
      }
      console.log(name, op, res.join(' '));
    }
  }
}, { stdout: 'inherit' });
