/* The operator's fleet table rules (console/page/fleet-table.ts): rows from robot views, outliers, filters, sorting. */
import assert from 'node:assert/strict';
import type { RobotView, ShadowView } from './protocol';
import { filterRows, fleetRows, sortRows } from './page/fleet-table';

const status = (health: Record<string, unknown>): ShadowView => ({ version: 1, desired: null, reported: { health }, delta: null, timestamp: 1 });
const robot = (thing: string, connected: boolean, health: Record<string, unknown> | null, firmware: string | null = null, lastSeen: number | null = 1000): RobotView => ({
	thing,
	connected,
	lastSeen,
	firmware,
	classic: null,
	schedule: null,
	status: health ? status(health) : null,
	controls: false,
});

const FLEET: RobotView[] = [
	robot('robot-1', true, { firmware: '1.0.0', freeHeap: 100_000, reconnects: 1, rssi: -55, rebootReason: 'power-on', storageUsed: 1000, storageTotal: 10_000 }),
	robot('robot-2', true, { firmware: '1.0.0', freeHeap: 90_000, reconnects: 2, rssi: -60, rebootReason: 'software' }),
	robot('robot-10', false, { firmware: '1.1.0', freeHeap: 30_000, reconnects: 40, rssi: -85, rebootReason: 'watchdog', storageUsed: 9_500, storageTotal: 10_000 }),
	robot('robot-3', true, null, '1.1.0', null),
];

describe('fleet table (operator view)', () => {
	it('a row per robot, firmware from the OTA agent or else from health, and why a robot is an outlier', () => {
		const rows = fleetRows(FLEET);
		assert.deepEqual(
			rows.map((r) => [r.thing, r.firmware, r.outliers]),
			[
				['robot-1', '1.0.0', []],
				['robot-2', '1.0.0', []],
				['robot-10', '1.1.0', ['low heap', 'reconnects', 'weak Wi-Fi', 'storage full', 'reboot: watchdog']],
				['robot-3', '1.1.0', []],
			],
		);
		assert.equal(rows[0]!.storagePct, 10);
		assert.equal(rows[3]!.freeHeap, null, 'no health yet: no figures, no outlier');
	});

	it('filters by connection, firmware and outliers', () => {
		const rows = fleetRows(FLEET);
		assert.deepEqual(
			filterRows(rows, { online: 'offline' }).map((r) => r.thing),
			['robot-10'],
		);
		assert.deepEqual(
			filterRows(rows, { online: 'online', firmware: '1.1.0' }).map((r) => r.thing),
			['robot-3'],
		);
		assert.deepEqual(
			filterRows(rows, { outliersOnly: true }).map((r) => r.thing),
			['robot-10'],
		);
		assert.equal(filterRows(rows, { online: 'all', firmware: 'all' }).length, 4);
	});

	it('sorts by any column, names in numeric order, missing values last both ways', () => {
		const rows = fleetRows(FLEET);
		assert.deepEqual(
			sortRows(rows, 'thing').map((r) => r.thing),
			['robot-1', 'robot-2', 'robot-3', 'robot-10'],
		);
		assert.deepEqual(
			sortRows(rows, 'freeHeap').map((r) => r.thing),
			['robot-10', 'robot-2', 'robot-1', 'robot-3'],
		);
		assert.deepEqual(
			sortRows(rows, 'freeHeap', true).map((r) => r.thing),
			['robot-1', 'robot-2', 'robot-10', 'robot-3'],
		);
		assert.deepEqual(sortRows(rows, 'outliers', true)[0]!.thing, 'robot-10');
		assert.deepEqual(
			sortRows(rows, 'online').map((r) => r.thing),
			['robot-10', 'robot-1', 'robot-2', 'robot-3'],
		);
	});
});
