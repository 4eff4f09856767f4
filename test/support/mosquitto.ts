// A real mosquitto (Debian package `mosquitto`) as a child process, configured like the local
// broker: mutual TLS 1.2 against the dev CA, identity = certificate CN, per-thing ACL, and
// persistence in its own dir so `restart()` keeps sessions and queued QoS 1 messages.
//
// Differences from AWS IoT and the local broker that tests must not rely on:
// - mosquitto cannot refuse a client id that differs from the CN; `use_username_as_clientid`
//   makes it replace the client id with the CN instead;
// - a PUBLISH the ACL denies is acknowledged and dropped, and the client stays connected;
// - mosquitto 2.0.11's acl_file grants every SUBSCRIBE (no SUBACK 0x80) and applies the read
//   ACL at delivery, so a thing still never receives another thing's messages.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { DevPki } from '../../cloud/local/dev-pki';

export interface Mosquitto {
	readonly port: number;
	readonly dir: string;
	/** mosquitto's log so far (stderr), for failure messages. */
	log(): string;
	/** SIGTERM (mosquitto saves its persistence file) and wait for exit. */
	stop(): Promise<void>;
	/** stop, then start again on the same port with the same persistence dir. */
	restart(): Promise<void>;
}

const BINARY_CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', 'mosquitto'];
const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;

const ACL = ['# per-thing policy, as cloud/local/thing-policy.ts; %u is the certificate CN', 'pattern readwrite robots/%u/#', 'pattern readwrite $aws/things/%u/#', 'pattern write $aws/rules/mission_report/robots/%u/#', ''].join('\n');

/**
 * `extraAcl`: acl_file lines appended to the per-thing policy, for a test that needs an
 * observer (e.g. `user robot-2` / `topic read robots/robot-1/will` to see a last will).
 */
export async function startMosquitto(pki: Pick<DevPki, 'paths'>, extraAcl: readonly string[] = []): Promise<Mosquitto> {
	const binary = findBinary();
	const dir = await mkdtemp(join(tmpdir(), 'mosquitto-'));
	process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
	const dataDir = join(dir, 'data');
	await mkdir(dataDir);
	const port = await freePort();
	const aclPath = join(dir, 'acl');
	await writeFile(aclPath, ACL + (extraAcl.length ? '\n' + extraAcl.join('\n') + '\n' : ''));
	const confPath = join(dir, 'mosquitto.conf');
	await writeFile(
		confPath,
		[
			// when started as root, mosquitto would drop to user `mosquitto`, which cannot read the temp dir
			`user ${userInfo().username}`,
			'per_listener_settings false',
			'allow_anonymous false',
			'persistence true',
			`persistence_location ${dataDir}/`,
			'autosave_interval 1',
			'log_dest stderr',
			'log_type error',
			'log_type warning',
			'log_type notice',
			'log_type information',
			'connection_messages true',
			`acl_file ${aclPath}`,
			`listener ${port} 127.0.0.1`,
			`cafile ${pki.paths.caPem}`,
			`certfile ${pki.paths.serverCertPem}`,
			`keyfile ${pki.paths.serverKeyPem}`,
			'require_certificate true',
			'use_identity_as_username true',
			'use_username_as_clientid true',
			'tls_version tlsv1.2',
			'',
		].join('\n'),
	);

	let child: ChildProcess | undefined;
	let output = '';
	const launch = async (): Promise<void> => {
		const proc = spawn(binary, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
		child = proc;
		proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
		proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
		const exited = new Promise<never>((_, reject) => proc.once('exit', (code) => reject(new Error(`mosquitto exited with ${code} while starting:\n${output}`))));
		exited.catch(() => {});
		await Promise.race([waitListening(port), exited]);
	};
	const stop = async (): Promise<void> => {
		const proc = child;
		child = undefined;
		if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
		const exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
		proc.kill('SIGTERM');
		const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_TIMEOUT_MS);
		await exit;
		clearTimeout(timer);
	};
	process.once('exit', () => child?.kill('SIGKILL'));

	await launch();
	return {
		port,
		dir,
		log: () => output,
		stop,
		async restart() {
			await stop();
			await launch();
		},
	};
}

function findBinary(): string {
	for (const candidate of BINARY_CANDIDATES) {
		const r = spawnSync(candidate, ['-h'], { stdio: 'ignore' });
		if (!r.error) return candidate;
	}
	throw new Error('mosquitto is not installed: run `apt-get install -y mosquitto` (Debian/Ubuntu)');
}

/** A port that was free a moment ago (the kernel picks it; mosquitto cannot listen on 0). */
function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const { port } = srv.address() as AddressInfo;
			srv.close(() => resolve(port));
		});
	});
}

async function waitListening(port: number): Promise<void> {
	const deadline = Date.now() + START_TIMEOUT_MS;
	for (;;) {
		const ok = await new Promise<boolean>((resolve) => {
			const s = connect(port, '127.0.0.1');
			s.once('connect', () => {
				s.destroy();
				resolve(true);
			});
			s.once('error', () => resolve(false));
		});
		if (ok) return;
		if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${START_TIMEOUT_MS} ms`);
		await new Promise((r) => setTimeout(r, 50));
	}
}
