/*
 * The health figures on Moddable (../health.ts) inside XS over fakes of the SDK's
 * `instrumentation` and `net` (fakes/): what the platform has is reported, what it lacks is left
 * out (never made up), as on lin (no RSSI) and in a release build (no instrumentation).
 */
import * as assert from '../../../core/testing/assert';
import { createModdableHealth } from '../health';
import { instrumentationFake } from './fakes/instrumentation';
import { netFake } from './fakes/net';

describe('moddable health figures over instrumentation and net', () => {
	beforeEach(() => {
		instrumentationFake.reset();
		netFake.reset();
	});

	it('reports free heap, RSSI and storage where the platform has them (ESP32)', () => {
		instrumentationFake.set('System Free Memory', 81_234);
		netFake.set('RSSI', -61);
		const h = createModdableHealth({ resetReason: 'power-on', storage: () => ({ used: 3000, total: 16000 }) });
		assert.equal(h.resetReason, 'power-on');
		assert.deepEqual(h.read(), { freeHeap: 81_234, rssi: -61, storageUsed: 3000, storageTotal: 16000 });
	});

	it('leaves out what the platform lacks: no RSSI on lin, nothing from instrumentation in a release build', () => {
		instrumentationFake.set('System Free Memory', 5000);
		const lin = createModdableHealth({ resetReason: 'unknown' });
		assert.deepEqual(lin.read(), { freeHeap: 5000 });
		// the lin simulator's own instrumentation answers 0 (seen in the device scenario echo): not a figure
		instrumentationFake.set('System Free Memory', 0);
		assert.deepEqual(lin.read(), {});
		instrumentationFake.off();
		assert.deepEqual(lin.read(), {});
	});

	it('an RSSI that is not a negative number (0 when not associated) is left out', () => {
		netFake.set('RSSI', 0);
		instrumentationFake.off();
		assert.deepEqual(createModdableHealth({ resetReason: 'software' }).read(), {});
	});
});
