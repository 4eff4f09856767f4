/*
 * The firmware-update ports on Node.
 *
 * `createFileSlots(dir)`: two slots as files (`slot-a.bin`, `slot-b.bin`) and the
 * bootloader's state in `boot.json` (written to a temporary name, fsynced, renamed).
 * Image writes are fsynced before `write` returns, so after a kill the file size is
 * what the download resumes from. The bootloader's record and its rule (ESP-IDF's
 * CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE) are core/ota/boot.ts, shared with the
 * Moddable lin slots. `reboot` calls `onReboot` (the simulator restarts the robot,
 * which constructs the slots again: that is the boot).
 *
 * `hostCodeSigning`: SHA-256 from node:crypto; ECDSA verification of a digest is the
 * core's portable P-256 (node:crypto only verifies data it hashes itself).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { verifyP256 } from '../../core/crypto/p256';
import * as boot from '../../core/ota/boot';
import type { BootRecord, Slot } from '../../core/ota/boot';
import type { CodeSigningPort, FirmwareInfo, FirmwareSlotPort } from '../../ports';

export interface FileSlots extends FirmwareSlotPort {
	readonly dir: string;
}

export function createFileSlots(dir: string, options: { factoryVersion: string; onReboot?: () => void }): FileSlots {
	fs.mkdirSync(dir, { recursive: true });
	const stateFile = path.join(dir, 'boot.json');
	const image = (s: Slot) => path.join(dir, 'slot-' + s + '.bin');
	const save = (r: BootRecord) => {
		const tmp = stateFile + '.tmp';
		const fd = fs.openSync(tmp, 'w');
		fs.writeSync(fd, JSON.stringify(r));
		fs.fsyncSync(fd);
		fs.closeSync(fd);
		fs.renameSync(tmp, stateFile);
		st = r;
	};
	let st: BootRecord = boot.factoryRecord(options.factoryVersion);
	if (fs.existsSync(stateFile)) {
		const text = fs.readFileSync(stateFile, 'utf8');
		const r = boot.parseRecord(text);
		if (!r) throw new Error('firmware slots: ' + stateFile + ' is not a boot record: ' + text.slice(0, 80));
		st = r;
	}
	// the bootloader, at construction = power-up
	save(boot.powerUp(st));
	const inactive = () => boot.other(st.boot);
	const size = (s: Slot) => (fs.existsSync(image(s)) ? fs.statSync(image(s)).size : 0);
	const fail = (e: unknown) => ({ ok: false as const, error: e instanceof Error ? e.message : String(e) });

	return {
		dir,
		running: (): FirmwareInfo => boot.running(st),
		previous: () => boot.previous(st),
		begin(version, bytes) {
			try {
				fs.writeFileSync(image(inactive()), new Uint8Array(0));
				save(boot.begin(st, version, bytes));
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		written() {
			return st.pending ? { ...st.pending, bytes: size(inactive()) } : undefined;
		},
		write(offset, bytes) {
			const refused = boot.checkWrite(st, size(inactive()), offset, bytes.length);
			if (refused) return { ok: false, error: refused };
			try {
				const fd = fs.openSync(image(inactive()), 'r+');
				try {
					fs.writeSync(fd, bytes, 0, bytes.length, offset);
					fs.fsyncSync(fd);
				} finally {
					fs.closeSync(fd);
				}
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		read(offset, length) {
			const fd = fs.openSync(image(inactive()), 'r');
			try {
				const out = new Uint8Array(length);
				const n = fs.readSync(fd, out, 0, length, offset);
				return out.subarray(0, n);
			} finally {
				fs.closeSync(fd);
			}
		},
		activate: () => boot.commit(boot.activate(st, size(inactive())), save),
		reboot() {
			options.onReboot?.();
		},
		markValid: () => save(boot.markValid(st)),
		rollback: () => boot.commit(boot.rollback(st), save),
	};
}

export const hostCodeSigning: CodeSigningPort = {
	sha256() {
		const h = crypto.createHash('sha256');
		return {
			update: (d) => void h.update(d),
			digest: () => new Uint8Array(h.digest()),
		};
	},
	verifyP256Sha256(certificate, digest, signature) {
		let point: Uint8Array;
		try {
			const spki = new crypto.X509Certificate(certificate).publicKey.export({ format: 'der', type: 'spki' });
			point = new Uint8Array(spki.subarray(spki.length - 65));
		} catch {
			return false;
		}
		return verifyP256(point, digest, signature);
	},
};
