/*
 * The `sim` target: each robot is tools/sim/robot.ts in its own process (the firmware
 * core on the host platform, file storage), controlled over its stdin with the
 * test-control protocol. Power loss is kill -9; power on starts a new process over the
 * same data directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseReply } from '../../firmware/core/testcmd/protocol';
import { LineLog, Requests, type BootOptions, type RobotUnderTest, type Target } from './target';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROBOT = path.join(root, 'tools/sim/robot.ts');

export interface SimTargetOptions {
	/** A thing's credentials directory (ca.der, cert.der, key.der). */
	credentials(thing: string): string;
	/** Robots' storage lives under it, one directory per thing. */
	dataDir: string;
	/** Every line of every robot, for --verbose runs. */
	echo?: (thing: string, line: string) => void;
}

export function simTarget(o: SimTargetOptions): Target {
	const robots = new Set<SimRobot>();
	return {
		name: 'sim',
		async boot(thing, options) {
			const r = new SimRobot(thing, args(thing, options), o.echo);
			robots.add(r);
			await r.powerOn();
			return r;
		},
		async close() {
			await Promise.all([...robots].map((r) => r.stop()));
		},
	};

	function args(thing: string, b: BootOptions): string[] {
		const data = path.join(o.dataDir, thing);
		fs.mkdirSync(data, { recursive: true });
		return [
			'--import',
			'tsx',
			ROBOT,
			'--thing',
			thing,
			'--credentials',
			o.credentials(thing),
			'--data',
			data,
			'--host',
			b.host,
			'--port',
			String(b.port),
			'--server-name',
			b.serverName,
			'--ms-per-min',
			String(b.msPerMin ?? 60_000),
			...(b.mapBytes ? ['--map-bytes', String(b.mapBytes)] : []),
			...(b.codeSigningCert ? ['--code-signing-cert', b.codeSigningCert] : []),
			...(b.registrationUrl ? ['--registration-url', b.registrationUrl] : []),
		];
	}
}

class SimRobot implements RobotUnderTest {
	readonly #log = new LineLog();
	readonly #requests = new Requests();
	readonly #args: string[];
	readonly #echo: SimTargetOptions['echo'];
	#proc: ChildProcess | undefined;

	constructor(
		readonly thing: string,
		args: string[],
		echo: SimTargetOptions['echo'],
	) {
		this.#args = args;
		this.#echo = echo;
	}

	get lines() {
		return this.#log.lines;
	}

	command(command: Parameters<RobotUnderTest['command']>[0]) {
		const p = this.#proc;
		if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.reject(new Error(`${this.thing} is not running`));
		return this.#requests.send((l) => p.stdin!.write(l), command);
	}

	waitFor(what: string, match: Parameters<RobotUnderTest['waitFor']>[1], options?: Parameters<RobotUnderTest['waitFor']>[2]) {
		return this.#log.waitFor(`${this.thing}: ${what}`, match, options);
	}

	async powerOn(): Promise<void> {
		if (this.#proc && this.#proc.exitCode === null && this.#proc.signalCode === null) throw new Error(`${this.thing} is already on`);
		const since = this.#log.lines.length;
		const p = spawn(process.execPath, this.#args, {
			cwd: root,
			stdio: ['pipe', 'pipe', 'pipe'],
			env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
		});
		this.#proc = p;
		let partial = '';
		const take = (chunk: Buffer) => {
			partial += chunk.toString('utf8');
			let nl: number;
			while ((nl = partial.indexOf('\n')) >= 0) {
				const line = partial.slice(0, nl);
				partial = partial.slice(nl + 1);
				const reply = parseReply(line);
				if (reply) this.#requests.answer(reply);
				this.#log.add(line);
				this.#echo?.(this.thing, line);
			}
		};
		p.stdout!.on('data', take);
		p.stderr!.on('data', take);
		// a killed robot's pipe may still be written to by a late command
		p.stdin!.on('error', () => this.#requests.failAll(`${this.thing}: stdin closed`));
		p.once('exit', () => this.#requests.failAll(`${this.thing} exited`));
		// a robot that dies while booting (bad credentials, a crash) fails the boot at once
		let onExit: ((code: number | null, signal: string | null) => void) | undefined;
		const exited = new Promise<never>((_, reject) => {
			onExit = (code, signal) =>
				reject(
					new Error(
						`${this.thing} exited (${signal ?? code}) before booting:\n${this.#log.lines
							.slice(since)
							.map((l) => l.text)
							.join('\n')}`,
					),
				);
			p.once('exit', onExit);
		});
		try {
			await Promise.race([this.waitFor('boot', (l) => l.json?.event === 'sim.boot', { since, timeoutMs: 30_000 }), exited]);
		} finally {
			p.off('exit', onExit!);
		}
	}

	async powerLoss(): Promise<void> {
		const p = this.#proc;
		if (!p || p.exitCode !== null || p.signalCode !== null) return;
		const exited = new Promise((r) => p.once('exit', r));
		p.kill('SIGKILL');
		await exited;
	}

	async stop(): Promise<void> {
		const p = this.#proc;
		if (!p || p.exitCode !== null || p.signalCode !== null) return;
		const exited = new Promise((r) => p.once('exit', r));
		p.kill('SIGTERM');
		await exited;
	}
}
