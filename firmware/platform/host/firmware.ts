/*
 * The firmware-update ports on Node.
 *
 * `createFileSlots(dir)`: two slots as files (`slot-a.bin`, `slot-b.bin`) and the
 * bootloader's state in `boot.json` (written to a temporary name, fsynced, renamed).
 * Image writes are fsynced before `write` returns, so after a kill the file size is
 * what the download resumes from. The bootloader rule is ESP-IDF's
 * (CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE): an image activated and booted once without
 * `markValid` is abandoned at the next boot. `reboot` calls `onReboot` (the simulator
 * restarts the robot, which constructs the slots again: that is the boot).
 *
 * `hostCodeSigning`: SHA-256 from node:crypto; ECDSA verification of a digest is the
 * core's portable P-256 (node:crypto only verifies data it hashes itself).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { verifyP256 } from '../../core/crypto/p256';
import type { CodeSigningPort, FirmwareInfo, FirmwareSlotPort } from '../../ports';

type Slot = 'a' | 'b';

interface BootState {
	boot: Slot;
	versions: Partial<Record<Slot, string>>;
	/** The boot slot was activated and not yet marked valid. */
	probation: boolean;
	/** ... and has been booted once already in that state. */
	tried: boolean;
	/** The image being written to the other slot. */
	pending?: { version: string; size: number };
}

const other = (s: Slot): Slot => (s === 'a' ? 'b' : 'a');

export interface FileSlots extends FirmwareSlotPort {
	readonly dir: string;
}

export function createFileSlots(dir: string, options: { factoryVersion: string; onReboot?: () => void }): FileSlots {
	fs.mkdirSync(dir, { recursive: true });
	const stateFile = path.join(dir, 'boot.json');
	const image = (s: Slot) => path.join(dir, 'slot-' + s + '.bin');
	const save = (st: BootState) => {
		const tmp = stateFile + '.tmp';
		const fd = fs.openSync(tmp, 'w');
		fs.writeSync(fd, JSON.stringify(st));
		fs.fsyncSync(fd);
		fs.closeSync(fd);
		fs.renameSync(tmp, stateFile);
	};
	let st: BootState = fs.existsSync(stateFile)
		? (JSON.parse(fs.readFileSync(stateFile, 'utf8')) as BootState)
		: { boot: 'a', versions: { a: options.factoryVersion }, probation: false, tried: false };
	// the bootloader, at construction = power-up
	if (st.probation && st.tried) st = { ...st, boot: other(st.boot), probation: false, tried: false };
	else if (st.probation) st = { ...st, tried: true };
	save(st);
	const inactive = () => other(st.boot);
	const size = (s: Slot) => (fs.existsSync(image(s)) ? fs.statSync(image(s)).size : 0);
	const fail = (e: unknown) => ({ ok: false as const, error: e instanceof Error ? e.message : String(e) });

	return {
		dir,
		running(): FirmwareInfo {
			return { version: st.versions[st.boot] ?? '0.0.0', valid: !st.probation };
		},
		previous() {
			const v = st.versions[inactive()];
			return v === undefined || st.pending ? undefined : { version: v, valid: true };
		},
		begin(version, bytes) {
			try {
				fs.writeFileSync(image(inactive()), new Uint8Array(0));
				st = { ...st, versions: { ...st.versions, [inactive()]: undefined }, pending: { version, size: bytes } };
				save(st);
				return { ok: true };
			} catch (e) {
				return fail(e);
			}
		},
		written() {
			return st.pending ? { ...st.pending, bytes: size(inactive()) } : undefined;
		},
		write(offset, bytes) {
			if (!st.pending) return { ok: false, error: 'no image begun' };
			if (offset !== size(inactive())) return { ok: false, error: 'write at ' + offset + ', slot holds ' + size(inactive()) };
			if (offset + bytes.length > st.pending.size) return { ok: false, error: 'image larger than ' + st.pending.size };
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
		activate() {
			const p = st.pending;
			if (!p || size(inactive()) !== p.size) return { ok: false, error: 'no complete image' };
			const { pending: _, ...rest } = st;
			st = { ...rest, boot: inactive(), versions: { ...st.versions, [inactive()]: p.version }, probation: true, tried: false };
			save(st);
			return { ok: true };
		},
		reboot() {
			options.onReboot?.();
		},
		markValid() {
			st = { ...st, probation: false, tried: false };
			save(st);
		},
		rollback() {
			if (st.versions[inactive()] === undefined) return { ok: false, error: 'no previous image' };
			st = { ...st, boot: inactive(), probation: false, tried: false };
			save(st);
			return { ok: true };
		},
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
