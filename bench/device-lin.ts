/*
 * Section device.lin: the device scenarios on the Moddable `lin` runtime (mcsim headless, through
 * test/device/run.ts): echo latency, image size, memory peaks against the manifest's creation
 * sizes (bench/device-budget.ts), crypto throughput, the OTA and robot-day figures
 * (bench/device-ota.ts). Only when MODDABLE is set. On the board's word size with growth off:
 * DEVICE_M32=1 DEVICE_CREATION=esp32.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgetMarkdown, creationSizes, deviceBudget } from './device-budget';
import { otaMarkdown } from './device-ota';
import { benchSection } from './section';
import { fmt } from './stats';
import { table } from './table';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

type DeviceResult = { skipped: string } | { ok: boolean; exitCode: number; verdict?: string; metrics: Record<string, unknown>[]; error?: string; tail?: string[]; wallMs: number };

/** A free port P with P+1 also free (the device runner uses P for the broker, P+1 for its relay). */
async function freePortPair(): Promise<number> {
	const tryListen = (port: number) =>
		new Promise<number | undefined>((resolve) => {
			const s = net.createServer();
			s.once('error', () => resolve(undefined));
			s.listen(port, '127.0.0.1', () => {
				const p = (s.address() as net.AddressInfo).port;
				s.close(() => resolve(p));
			});
		});
	for (let i = 0; i < 20; i++) {
		const p = await tryListen(0);
		if (p && p < 65535 && (await tryListen(p + 1))) return p;
	}
	throw new Error('no free port pair');
}

async function deviceLin(scenarios: readonly string[]): Promise<DeviceResult> {
	if (!process.env.MODDABLE) return { skipped: 'MODDABLE is not set (export MODDABLE=/opt/moddable-8.2.3 PATH=$MODDABLE/build/bin/lin/release:$PATH)' };
	const port = await freePortPair();
	const t0 = performance.now();
	const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'test/device/run.ts'), ...scenarios], {
		cwd: root,
		env: { ...process.env, DEVICE_BROKER_PORT: String(port) },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	const out: string[] = [];
	let partial = '';
	child.stdout!.on('data', (b: Buffer) => {
		const text = partial + b.toString();
		const lines = text.split('\n');
		partial = lines.pop() ?? '';
		out.push(...lines);
	});
	const err: string[] = [];
	child.stderr!.on('data', (b: Buffer) => err.push(...b.toString().split('\n').filter(Boolean)));
	// a bound for a stuck run, not a threshold: the budget scenarios, then the ota and robot-day cases (each several app starts)
	const limitMs = 1_200_000;
	const killer = setTimeout(() => child.kill('SIGTERM'), limitMs);
	const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
	clearTimeout(killer);
	if (partial) out.push(partial);
	const wallMs = Math.round(performance.now() - t0);
	if (out.some((l) => l.startsWith('device suite skipped'))) return { skipped: out.find((l) => l.startsWith('device suite skipped'))! };
	const metrics: Record<string, unknown>[] = [];
	for (const l of out) {
		if (!l.startsWith('device-metric ')) continue;
		try {
			metrics.push(JSON.parse(l.slice('device-metric '.length)) as Record<string, unknown>);
		} catch {
			/* not JSON */
		}
	}
	const verdict = out.find((l) => l.startsWith('device echo:'));
	const ok = code === 0 && scenarios.every((n) => out.some((l) => l.startsWith(`device ${n}: PASS`)));
	const result: DeviceResult = { ok, exitCode: code, metrics, wallMs, ...(verdict ? { verdict } : {}) };
	if (!ok) {
		result.error = code === -1 || wallMs >= limitMs ? `killed after ${limitMs} ms` : `test/device/run.ts exited ${code}`;
		result.tail = [...out, ...err].slice(-15);
	}
	return result;
}

/** The SDK the device sections ran on: $MODDABLE/tools/VERSION, and the lin build as the runs recorded it (word size, debug as test/device/run.ts builds, creation). */
function sdkInfo(metrics: readonly Record<string, unknown>[]): { version: string; build: string } | undefined {
	const dir = process.env.MODDABLE;
	if (!dir || !existsSync(join(dir, 'tools/VERSION'))) return undefined;
	const image = metrics.find((m) => m.name === 'device.image');
	const variant = typeof image?.variant === 'string' ? image.variant : 'debug';
	const mem = metrics.filter((m) => m.name === 'device.memory');
	const bits = [...new Set(mem.map((m) => String(m.bits ?? 64)))].join('/');
	const creation = [...new Set(mem.map((m) => String(m.creation ?? 'lin')))].join(', ');
	return { version: readFileSync(join(dir, 'tools/VERSION'), 'utf8').trim(), build: `lin ${bits || '?'}-bit ${variant}, creation ${creation || '?'}` };
}

function deviceMarkdown(v: DeviceResult): string[] {
	if ('skipped' in v) return ['Skipped: ' + v.skipped, ''];
	const md: string[] = [];
	const m = (name: string) => v.metrics.find((x) => x.name === name);
	const echo = v.metrics.find((x) => 'appStartToSubscribedMs' in x);
	const mem = v.metrics.find((x) => x.name === 'device.memory' && x.scenario === 'echo');
	const image = m('device.image');
	const scen = m('device.scenario');
	const rows: (string | number)[][] = [];
	rows.push(['verdict', v.verdict ?? (v.ok ? 'PASS' : 'FAIL')]);
	if (echo) {
		rows.push(['app start → SUBACK granted', echo.appStartToSubscribedMs + ' ms']);
		rows.push(['link start → SUBACK granted', echo.linkStartToSubscribedMs + ' ms']);
		rows.push(['link start → CONNACK', echo.linkStartToConnackMs + ' ms']);
	}
	if (image) {
		rows.push(['image: mc.so (' + image.variant + ')', fmt(Number(image.mcSoBytes)) + ' B']);
		rows.push(['image: compiled modules (.xsb)', fmt(Number(image.xsbBytes)) + ' B']);
	}
	if (mem) {
		const pair = (used: string, avail: string, unit: string) => `${fmt(Number(mem[used]))} / ${fmt(Number(mem[avail]))} ${unit}`;
		if ('chunkUsedPeak' in mem) rows.push(['peak chunk heap used / available', pair('chunkUsedPeak', 'chunkAvailablePeak', 'B')]);
		if ('slotUsedPeak' in mem) rows.push(['peak slot heap used / available', pair('slotUsedPeak', 'slotAvailablePeak', 'B')]);
		if ('stackUsedPeak' in mem) rows.push(['peak stack used / available', pair('stackUsedPeak', 'stackAvailablePeak', 'B')]);
		if ('keysUsedPeak' in mem) rows.push(['keys used', fmt(Number(mem.keysUsedPeak))]);
		if ('garbageCollectionsPeak' in mem) rows.push(['garbage collections', fmt(Number(mem.garbageCollectionsPeak))]);
		if ('networkBytesReadPeak' in mem) rows.push(['network bytes read / written', `${fmt(Number(mem.networkBytesReadPeak))} / ${fmt(Number(mem.networkBytesWrittenPeak))}`]);
		rows.push(['instrument samples', fmt(Number(mem.samples))]);
	}
	if (scen) rows.push(['build / run', `${scen.buildMs ?? '?'} ms / ${scen.runMs ?? '?'} ms`]);
	md.push(table(['metric', 'value'], rows), '');
	md.push(...otaMarkdown(v.metrics, table));
	if (!v.ok) md.push('Failed: ' + (v.error ?? '') + '\n\n```\n' + (v.tail ?? []).join('\n') + '\n```', '');
	md.push(
		"`test/device/run.ts echo` (mutual TLS, CONNECT + SUBSCRIBE, one QoS 1 echo) against the local broker. Times are `Time.ticks` differences inside the app. Memory figures are the peaks of the `instruments` lines the debug build prints once a second (bytes), so short peaks between samples are missed; the simulator's heaps are sized by the manifest, not the MCU.",
		'',
	);
	md.push(...budgetMarkdown(deviceBudget(v.metrics, creationSizes(root)), table));
	return md;
}

export const deviceLinSection = benchSection({
	name: 'device.lin',
	title: 'Moddable runtime (lin, mcsim headless)',
	run: (o) => deviceLin(o.deviceScenarios),
	markdown: deviceMarkdown,
	sdk: (v) => {
		const metrics = (v as { metrics?: unknown } | undefined)?.metrics;
		return Array.isArray(metrics) ? sdkInfo(metrics as Record<string, unknown>[]) : undefined;
	},
});
