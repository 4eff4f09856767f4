/* The handlers' structured logger: levels, keys of children, the invocation's trace keys. */
import assert from 'node:assert/strict';
import { createLogger, errorFields, invocationLogger, type LogRecord } from './logger';

describe('cloud logger', () => {
	it('writes records at or above its level, with its keys and the caller fields', () => {
		const out: LogRecord[] = [];
		const log = createLogger({ sink: (r) => out.push(r), level: 'info', keys: { service: 's' } });
		log.debug('a.debug');
		log.info('a.info', { n: 1 });
		log.error('a.error');
		assert.deepEqual(out, [
			{ service: 's', n: 1, level: 'info', event: 'a.info' },
			{ service: 's', level: 'error', event: 'a.error' },
		]);
	});

	it('gives children their own keys, never shared between invocations, and keeps level and event its own', () => {
		const out: LogRecord[] = [];
		const log = createLogger({ sink: (r) => out.push(r) });
		const a = invocationLogger(log, { awsRequestId: 'r-a', functionName: 'F' }, { _X_AMZN_TRACE_ID: 'Root=1-abc' }).child({ thing: 'robot-1' });
		const b = invocationLogger(log, { awsRequestId: 'r-b', functionName: 'F' }, {});
		a.warn('x.y', { level: 'debug', event: 'forged' });
		b.info('x.z');
		assert.deepEqual(out, [
			{ requestId: 'r-a', xrayTraceId: 'Root=1-abc', thing: 'robot-1', level: 'warn', event: 'x.y' },
			{ requestId: 'r-b', level: 'info', event: 'x.z' },
		]);
	});

	it('checks its options and names errors', () => {
		assert.throws(() => createLogger({ level: 'loud' as never }), /"level" expected debug, info, warn or error, got "loud"/);
		assert.throws(() => createLogger({ sink: 1 as never }), /"sink" expected a function/);
		assert.deepEqual(errorFields(new RangeError('r')), { errorName: 'RangeError', error: 'r' });
		assert.deepEqual(errorFields('s'), { errorName: 'string', error: 's' });
	});
});
