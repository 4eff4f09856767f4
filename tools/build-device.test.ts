/* npm run build:device / npm run flash: argument handling and what they say when something is missing. */
import assert from 'node:assert/strict';
import { createCa, issueDevice } from '../cloud/local/dev-pki';
import { ESP_IDF_INSTALL, plan, type Plan, type Probe, type Step } from './build-device';
import { linPreferences, nvsCsv } from './provision/board';

const MODDABLE = '/opt/moddable';
const IDF = '/home/me/esp32/esp-idf-v6.0';

/** A machine with Moddable, ESP-IDF v6.0 (exported) and one provisioning bundle, unless told otherwise. */
function machine(o: { env?: Record<string, string | undefined>; idfVersion?: string; path?: string[]; files?: Record<string, string> } = {}): Probe {
	const files = o.files ?? {};
	const path = o.path ?? ['mcconfig', 'idf.py', 'esptool.py'];
	return {
		env: { MODDABLE, IDF_PATH: IDF, ...o.env },
		exists: (p) => p === IDF || p in files,
		idfVersion: () => o.idfVersion ?? 'v6.0',
		onPath: (c) => path.includes(c),
		readText: (p) => files[p],
		scratchDir: () => '/tmp/robot-flash-test',
	};
}

const ok = (p: Plan | { error: string }): Plan => {
	if ('error' in p) assert.fail(p.error);
	return p;
};
const error = (p: Plan | { error: string }): string => {
	assert.ok('error' in p, 'expected a refusal, got ' + JSON.stringify(p));
	return p.error;
};
const argvOf = (s: Step) => (s.kind === 'run' ? s.argv : []);

describe('tools/build-device: build:device and flash', () => {
	let files: Record<string, string>;
	const bundle = '/factory/things/robot-AB1234';
	before(async () => {
		const ca = await createCa('Flash CA');
		const d = await issueDevice(ca, 'robot-AB1234');
		const creds = { ca: ca.certDer, cert: d.certDer, key: d.keyDer };
		files = {
			[bundle + '/board/nvs.csv']: nvsCsv(creds),
			[bundle + '/board/modpreferences.json']: JSON.stringify(linPreferences(creds)),
			['/factory/things/robot-CSR001/board/nvs.csv']: nvsCsv({ ca: ca.certDer, cert: d.certDer }),
		};
	});

	it('builds lin by default with mcconfig, debug, the make target build only (never the default target that runs pkill)', () => {
		const p = ok(plan('build', [], machine()));
		assert.equal(p.steps.length, 1);
		const argv = argvOf(p.steps[0]!);
		assert.deepEqual(argv.slice(0, 7), ['mcconfig', '-d', '-m', '-p', 'lin', '-t', 'build']);
		assert.match(argv.at(-1)!, /manifest\.json$/);
		const release = ok(plan('build', ['lin', '--release', '--out', '/tmp/x'], machine()));
		assert.deepEqual(argvOf(release.steps[0]!).slice(0, 8), ['mcconfig', '-m', '-p', 'lin', '-t', 'build', '-o', '/tmp/x']);
		assert.deepEqual(release.dirs, ['/tmp/x'], 'mcconfig wants its -o directory to exist');
	});

	it('builds esp32 (and esp32/<board>) only with ESP-IDF v6.0, else says exactly what to install', () => {
		assert.deepEqual(argvOf(ok(plan('build', ['esp32', '--board', 'esp32_thing'], machine())).steps[0]!).slice(0, 5), ['mcconfig', '-d', '-m', '-p', 'esp32/esp32_thing']);
		const unset = error(plan('build', ['esp32'], machine({ env: { IDF_PATH: undefined } })));
		assert.ok(unset.startsWith('ESP-IDF not found: IDF_PATH is not set.'));
		assert.ok(unset.includes(ESP_IDF_INSTALL));
		assert.match(unset, /git clone -b v6\.0 --recursive https:\/\/github\.com\/espressif\/esp-idf\.git/);
		assert.match(error(plan('build', ['esp32'], machine({ env: { IDF_PATH: '/nowhere' } }))), /IDF_PATH=\/nowhere does not exist/);
		assert.match(error(plan('build', ['esp32'], machine({ idfVersion: 'v5.4.1' }))), /is v5\.4\.1; Moddable SDK 8\.2\.3 needs v6\.0/);
		// another patch level is what Moddable's own check lets through
		ok(plan('build', ['esp32'], machine({ idfVersion: 'v6.0.1' })));
		assert.match(error(plan('build', ['esp32'], machine({ path: ['mcconfig'] }))), /source \$IDF_PATH\/export\.sh/);
	});

	it('says how to get Moddable when it is missing', () => {
		assert.match(error(plan('build', ['lin'], machine({ env: { MODDABLE: undefined } }))), /MODDABLE is not set: install Moddable SDK 8\.2\.3/);
		assert.match(error(plan('build', ['lin'], machine({ path: [] }))), /mcconfig is not on PATH: export PATH=\/opt\/moddable\/build\/bin\/lin\/release/);
	});

	it('refuses unknown targets, boards and options with the usage', () => {
		assert.match(error(plan('build', ['esp8266'], machine())), /target expected lin or esp32, got "esp8266"\nusage:/);
		assert.match(error(plan('build', ['lin', 'esp32'], machine())), /target expected lin or esp32/);
		assert.match(error(plan('build', ['lin', '--board', 'esp32_thing'], machine())), /--board expected .*esp32 only/);
		assert.match(error(plan('build', ['esp32', '--board', '../x'], machine())), /--board expected/);
		assert.match(error(plan('build', ['lin', '--bogus'], machine())), /Unknown option '--bogus'/);
		assert.match(error(plan('build', ['lin', '--bundle', bundle], machine())), /--bundle is for npm run flash/);
		assert.match(error(plan('flash', [], machine({ files }))), /target expected lin or esp32, got undefined/);
	});

	it('flash esp32: checks the bundle, makes the NVS image of 0x14000 (the project nvs partition), writes it at 0x9000, then builds and flashes the app', () => {
		const p = ok(plan('flash', ['esp32', '--bundle', bundle, '--board', 'esp32_thing', '--port', '/dev/ttyUSB0'], machine({ files })));
		assert.deepEqual(p.steps.map(argvOf), [
			['python', IDF + '/components/nvs_flash/nvs_partition_generator/nvs_partition_gen.py', 'generate', bundle + '/board/nvs.csv', '/tmp/robot-flash-test/creds.bin', '0x14000'],
			['esptool.py', '--port', '/dev/ttyUSB0', 'write_flash', '0x9000', '/tmp/robot-flash-test/creds.bin'],
			['mcconfig', '-d', '-m', '-p', 'esp32/esp32_thing', '-o', argvOf(p.steps[2]!)[6] ?? '', argvOf(p.steps[2]!)[7] ?? ''],
		]);
		assert.deepEqual((p.steps[2] as { env?: object }).env, { UPLOAD_PORT: '/dev/ttyUSB0' });
		assert.equal(p.scratch, '/tmp/robot-flash-test', 'creds.bin (it holds the key) lives in a private directory removed afterwards');
		assert.equal(ok(plan('flash', ['esp32', '--bundle', bundle, '--creds-only'], machine({ files }))).steps.length, 2);
	});

	it('flash esp32 refuses a bundle it must not or cannot flash, saying why', () => {
		assert.match(error(plan('flash', ['esp32'], machine({ files }))), /--bundle DIR\/things\/<thing> expected/);
		assert.match(error(plan('flash', ['esp32', '--bundle', '/elsewhere'], machine({ files }))), /\/elsewhere\/board\/nvs\.csv not found/);
		// a robot that made its own key: an NVS image would erase it
		assert.match(error(plan('flash', ['esp32', '--bundle', '/factory/things/robot-CSR001'], machine({ files }))), /has no key: .*would erase that key/);
		const broken = { ...files, [bundle + '/board/nvs.csv']: 'key,type,encoding,value\nca,data,hex2bin,30\n' };
		assert.match(error(plan('flash', ['esp32', '--bundle', bundle], machine({ files: broken }))), /first entry must be a namespace/);
		assert.ok(error(plan('flash', ['esp32', '--bundle', bundle], machine({ files, env: { IDF_PATH: undefined } }))).includes(ESP_IDF_INSTALL));
	});

	it("flash lin merges the bundle's Preference fragment into ROOT/modpreferences.json (/tmp/ by default, as lin)", () => {
		const [step] = ok(plan('flash', ['lin', '--bundle', bundle], machine({ files }))).steps;
		assert.deepEqual(step, { kind: 'merge-lin', what: step!.what, fragment: bundle + '/board/modpreferences.json', file: '/tmp/modpreferences.json' });
		const [rooted] = ok(plan('flash', ['lin', '--bundle', bundle, '--root', '/srv/robot'], machine({ files }))).steps;
		assert.equal((rooted as { file: string }).file, '/srv/robot/modpreferences.json');
		assert.match(error(plan('flash', ['lin', '--bundle', bundle, '--port', '/dev/x'], machine({ files }))), /--port is for esp32/);
		assert.match(error(plan('flash', ['esp32', '--bundle', bundle, '--root', '/x'], machine({ files }))), /--root is for lin/);
	});
});
