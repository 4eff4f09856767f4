// A throwaway SoftHSM2 token for tests and the bench: its own SOFTHSM2_CONF and token directory.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULES = ['/usr/lib/softhsm/libsofthsm2.so', '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so', '/usr/local/lib/softhsm/libsofthsm2.so'];

export interface TestToken {
	readonly module: string;
	readonly label: string;
	readonly pin: string;
	readonly dir: string;
	close(): void;
}

/** The SoftHSM2 module path, or undefined when SoftHSM2 is not installed. */
export function softHsmModule(): string | undefined {
	return SOFTHSM_MODULES.find((m) => existsSync(m));
}

/**
 * Initializes a fresh token in a temporary directory and points SOFTHSM2_CONF at it (the module
 * reads it when first loaded in this process, so one token directory per process).
 */
export function createTestToken(label = 'robot-ca', pin = '1234'): TestToken {
	const module = softHsmModule();
	if (!module) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2)');
	const dir = mkdtempSync(join(tmpdir(), 'softhsm-'));
	const conf = join(dir, 'softhsm2.conf');
	writeFileSync(conf, `directories.tokendir = ${dir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
	process.env['SOFTHSM2_CONF'] = conf;
	execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', pin + '0'], { env: process.env, stdio: 'pipe' });
	return { module, label, pin, dir, close: () => rmSync(dir, { recursive: true, force: true }) };
}
