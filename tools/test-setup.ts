// `npm test` sets itself up (npm runs this as `pretest`): the suites start real Debian programs
// (a second MQTT broker, the HSM, openssl, the browser the console test drives, an X server for
// the Moddable simulator when an SDK is there). Missing ones are installed with apt-get when
// we are root; otherwise we stop at once with the one sudo command that installs them.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Need {
	/** A program that proves the package is there. */
	program: string;
	/** Other places the program may be, off PATH (Debian puts mosquitto in /usr/sbin). */
	paths?: string[];
	pkg: string;
	why: string;
	/** Only needed when this holds. */
	when?: () => boolean;
}

const NEEDS: Need[] = [
	{ program: 'mosquitto', paths: ['/usr/sbin/mosquitto'], pkg: 'mosquitto', why: 'a second real MQTT broker for the link conformance tests' },
	{ program: 'softhsm2-util', pkg: 'softhsm2', why: 'the HSM (PKCS#11) that holds the CA and code-signing keys' },
	{ program: 'openssl', pkg: 'openssl', why: 'independent certificate checks' },
	{ program: 'chromium', pkg: 'chromium', why: 'the browser the console test drives' },
	{ program: 'Xvfb', pkg: 'xvfb', why: 'the X server the Moddable simulator runs under', when: () => !!process.env['MODDABLE'] },
];

function has(n: Need): boolean {
	if (n.paths?.some((p) => existsSync(p))) return true;
	return spawnSync('sh', ['-c', `command -v ${n.program}`], { stdio: 'ignore' }).status === 0;
}

export function missing(needs: Need[] = NEEDS): Need[] {
	return needs.filter((n) => (n.when ? n.when() : true) && !has(n));
}

function main(): number {
	const miss = missing();
	if (!miss.length) {
		console.log('test-setup: every program the suites start is installed');
		return 0;
	}
	const pkgs = miss.map((n) => n.pkg);
	for (const n of miss) console.log(`test-setup: missing ${n.program} (Debian package ${n.pkg}): ${n.why}`);
	const root = typeof process.getuid === 'function' && process.getuid() === 0;
	if (!root) {
		console.log(`test-setup: not root: install them first with\n\n  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs.join(' ')}\n`);
		return 1;
	}
	console.log(`test-setup: apt-get install ${pkgs.join(' ')} (this takes a minute or two)`);
	const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
	const up = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
	if (up.status !== 0) {
		console.log(`test-setup: apt-get update failed (exit ${up.status})`);
		return 1;
	}
	const inst = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env });
	if (inst.status !== 0) {
		console.log(`test-setup: apt-get install ${pkgs.join(' ')} failed (exit ${inst.status})`);
		return 1;
	}
	const still = missing();
	if (still.length) {
		console.log(`test-setup: still missing after the install: ${still.map((n) => n.program).join(', ')}`);
		return 1;
	}
	console.log('test-setup: installed');
	return 0;
}

process.exitCode = main();
