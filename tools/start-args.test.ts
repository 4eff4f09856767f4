/* npm start's arguments: the local story's flags and --aws, refused with a reason. */
import assert from 'node:assert/strict';
import { parseStartArgs } from './start-args';

describe('npm start arguments', () => {
	const all = () => true;
	const ep = 'a1b2c3-ats.iot.eu-west-1.amazonaws.com';

	it('defaults to one robot on the local cloud with the console', () => {
		assert.deepEqual(parseStartArgs([], {}), { mode: 'local', robots: 1, keep: false, verbose: false, data: '.data', msPerMin: 40, console: true });
		assert.equal((parseStartArgs(['--robots', '20', '--keep'], {}) as { robots: number }).robots, 20);
	});

	it('--aws takes the endpoint from the flag or AWS_IOT_ENDPOINT, the region from the flag, the env or the endpoint', () => {
		assert.deepEqual(parseStartArgs(['--aws', '--credentials', '/c'], { AWS_IOT_ENDPOINT: ep }, all), {
			mode: 'aws',
			endpoint: ep,
			region: 'eu-west-1',
			credentials: '/c',
			keep: false,
			verbose: false,
			data: '.data',
			msPerMin: 40,
			console: true,
		});
		const o = parseStartArgs(['--aws', '--endpoint', ep, '--credentials', '/c', '--region', 'us-east-1'], { AWS_REGION: 'ap-south-1' }, all);
		assert.equal(o.mode === 'aws' && o.region, 'us-east-1');
		const e = parseStartArgs(['--aws', '--endpoint', ep, '--credentials', '/c'], { AWS_REGION: 'ap-south-1' }, all);
		assert.equal(e.mode === 'aws' && e.region, 'ap-south-1');
	});

	const bad: [string[], Record<string, string>, RegExp, ((p: string) => boolean)?][] = [
		[['--robots', '0'], {}, /--robots expected an integer 1\.\.1000, got "0"/],
		[['--robots', '2.5'], {}, /--robots expected an integer/],
		[['--robots', '1e3'], {}, /--robots expected an integer/],
		[['--ms-per-min=-1'], {}, /--ms-per-min expected/],
		[['--ms-per-min', '0'], {}, /--ms-per-min expected an integer 1\.\.60000/],
		[['--frobnicate'], {}, /Unknown option '--frobnicate'/],
		[['--endpoint', ep], {}, /--endpoint goes with --aws/],
		[['--aws', '--credentials', '/c'], {}, /--aws needs --endpoint HOST or AWS_IOT_ENDPOINT/],
		[['--aws', '--endpoint', 'https://' + ep, '--credentials', '/c'], {}, /--endpoint expected a host name/],
		[['--aws', '--endpoint', ep + ':8883', '--credentials', '/c'], {}, /--endpoint expected a host name/],
		[['--aws', '--endpoint', ep], {}, /--aws needs --credentials DIR/],
		[['--aws', '--endpoint', ep, '--credentials', '/c'], {}, /\/c\/ca\.der is missing/, (p) => !p.endsWith('ca.der')],
		[['--aws', '--endpoint', ep, '--credentials', '/c', '--robots', '3'], {}, /--aws runs one robot/],
		[['--aws', '--endpoint', ep, '--credentials', '/c', '--region', 'Europe'], {}, /--region expected a region/],
	];
	for (const [argv, env, message, exists] of bad) it(`refuses ${argv.join(' ')}`, () => assert.throws(() => parseStartArgs(argv, env, exists ?? all), message));
});
