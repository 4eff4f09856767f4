/*
 * Fake of our native firmware-boot (../../slots/firmware-boot.c) on the fake chip (chip.ts):
 * the running image's state; mark valid; rollback, which on the chip restarts and never
 * returns (here: recorded, then the call throws "restarted" so nothing after it runs), or
 * throws "firmware-boot: no image to roll back to"; restart, recorded (on the chip nothing
 * after it runs).
 */
import { chip } from './chip';

export function firmwareState(): 'pending' | 'valid' {
	return chip.state;
}
export function firmwareMarkValid(): void {
	chip.state = 'valid';
}
export function firmwareRollback(): void {
	if (!chip.canRollBack) throw new Error('firmware-boot: no image to roll back to');
	chip.restarts.push('rollback');
	throw new Error('restarted');
}
export function firmwareRestart(): void {
	chip.restarts.push('restart');
}
