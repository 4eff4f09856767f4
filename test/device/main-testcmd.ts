// The production entry (firmware/main.ts, manifest.json) as a test build on lin: the same image
// with config.testcmd set (an overlay manifest), run headless against the local cloud and driven
// over its TCP listener with the board target's LineChannel. Checks what the scenario testcmd
// (scenarios/testcmd.ts) cannot: the wiring in main.ts, its jumpable wall clock and its mission
// driver. A manual check (a second full build, about 100 s the first time):
//
//   DEVICE_WORK_DIR=build/device-x DEVICE_BROKER_PORT=N npx tsx test/device/main-testcmd.ts
//
// Exit 0 when every reply was as expected.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startLocalCloud } from '../../cloud/local/index';
import { connectChannel } from '../../hil-tests/targets/channel';
import { linPreferences } from '../../tools/provision/board';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const work = resolve(root, process.env.DEVICE_WORK_DIR ?? 'build/device', 'main-testcmd');
const THING = 'robot-main-1';
const PORT = Number(process.env.DEVICE_BROKER_PORT ?? 28883) + 2;

mkdirSync(work, { recursive: true });
const cloud = await startLocalCloud({ dataDir: work, things: [THING], inMemory: true, host: '127.0.0.1', mqttPort: PORT, log: () => {} });
const device = cloud.pki.things.get(THING)!;
const data = join(work, 'data');
rmSync(data, { recursive: true, force: true });
mkdirSync(data, { recursive: true });
writeFileSync(join(data, 'modpreferences.json'), JSON.stringify(linPreferences({ ca: cloud.pki.ca.certDer, cert: device.certDer, key: device.keyDer })));
const app = join(work, 'app');
mkdirSync(app, { recursive: true });
writeFileSync(
	join(app, 'manifest.json'),
	JSON.stringify({ include: [join(root, 'manifest.json')], build: { NAME: 'robot-main-testcmd' }, config: { file: { root: data + '/' }, mqtt: { host: '127.0.0.1', port: PORT, serverName: 'localhost' }, testcmd: { port: 0 } } }, null, '\t'),
);
const runner = [resolve(root, 'node_modules/.bin/tsx'), resolve(root, 'test/device/headless.ts')];
console.log(`main-testcmd: building and starting firmware/main.ts with config.testcmd (${work})`);
const child = spawn(runner[0]!, [...runner.slice(1), '--out', join(work, 'out'), app, '120'], { stdio: ['ignore', 'pipe', 'inherit'] });
const problems: string[] = [];
const expect = (what: string, ok: boolean, got: unknown) => {
	console.log(`main-testcmd: ${ok ? 'ok  ' : 'FAIL'} ${what}: ${JSON.stringify(got)}`);
	if (!ok) problems.push(what);
};
try {
	const port = await new Promise<number>((res, rej) => {
		createInterface({ input: child.stdout! }).on('line', (l) => {
			if (l.startsWith('run-headless')) console.log(l);
			const m = /"event":"testcmd\.listening".*"where":(\d+)/.exec(l);
			if (m) res(Number(m[1]));
		});
		child.on('close', (c) => rej(new Error(`run-headless ended (${c}) before the app listened`)));
	});
	const { channel, close } = await connectChannel('127.0.0.1', port);
	type Status = { link: string; radio: string; mission: string; clockOffsetMs: number };
	const status = async () => ((await channel.command({ cmd: 'status' })) as { status?: Status }).status;
	let s = await status();
	for (let i = 0; i < 150 && s?.link !== 'connected'; i++) {
		await new Promise((r) => setTimeout(r, 100));
		s = await status();
	}
	expect('status: connected', s?.link === 'connected', s);
	const jump = await channel.command({ cmd: 'clock-jump', ms: -3_600_000 });
	s = await status();
	expect('clock-jump -1 h: status clockOffsetMs', jump.ok && s?.clockOffsetMs === -3_600_000, s?.clockOffsetMs);
	const m = await channel.command({ cmd: 'mission' });
	s = await status();
	expect('mission: started on the cleaning model', m.ok && typeof m.mission === 'string' && s?.mission === 'running', { reply: m, mission: s?.mission });
	const busy = await channel.command({ cmd: 'mission' });
	expect('mission again: busy', busy.ok && busy.busy === true, busy);
	await channel.command({ cmd: 'offline' });
	s = await status();
	expect('offline: radio off, link offline', s?.radio === 'off' && s.link === 'offline', s);
	const bad = await channel.invalid({ cmd: 'clock-jump', ms: 'soon' });
	expect('clock-jump "soon": refused', !bad.ok && bad.error.code === 'bad', bad);
	await close();
} catch (e) {
	problems.push(String((e as Error).message ?? e));
	console.log('main-testcmd: FAIL ' + String(e));
} finally {
	child.kill('SIGTERM');
	await new Promise((r) => (child.exitCode === null ? child.on('close', r) : r(undefined)));
	await cloud.close();
}
console.log(problems.length ? `main-testcmd: FAIL (${problems.join('; ')})` : 'main-testcmd: PASS');
process.exit(problems.length ? 1 : 0);
