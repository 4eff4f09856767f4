/*
 * The test-control transport of the lin build (../testcmd/transport.ts) inside XS over fakes of
 * ECMA-419 `embedded:io/socket/listener` and `embedded:io/socket/tcp` as lin has them
 * (fakes/embedded-io-socket-*.ts): one rig at a time, replies written within what the socket
 * said it takes, a new connection replacing the old one, the rig hanging up, close().
 */
import * as assert from '../../../core/testing/assert';
import { memoryLog } from '../../../core/testing/fakes';
import { utf8Decode } from '../../../core/util/utf8';
import { openTestTransport } from '../testcmd/transport';
import { listenerFake } from './fakes/embedded-io-socket-listener';
import { tcpFake } from './fakes/embedded-io-socket-tcp';

/** A session that answers each line it gets with "re:<line>", as many times as asked. */
function echoSession(times = 1) {
	let buffered = '';
	const seen: string[] = [];
	return {
		seen,
		session: {
			push(bytes: Uint8Array): string[] {
				buffered += utf8Decode(bytes);
				const lines = buffered.split('\n');
				buffered = lines.pop() ?? '';
				seen.push(...lines);
				return lines.flatMap((l) => Array.from({ length: times }, () => 're:' + l));
			},
		},
	};
}
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe('moddable test-control transport (lin TCP) over ECMA-419 listener and tcp', () => {
	beforeEach(() => {
		listenerFake.reset();
		tcpFake.reset();
	});

	it('listens on the port asked (any free one for 0) and says where', () => {
		const t = openTestTransport({ port: 0 }, { open: () => echoSession().session }, memoryLog());
		assert.equal(t.where, listenerFake.last.port);
		const fixed = openTestTransport({ port: 5555 }, { open: () => echoSession().session }, memoryLog());
		assert.equal(fixed.where, 5555);
	});

	it('a rig connects, sends lines in pieces, and gets its replies once the socket takes them', () => {
		const e = echoSession();
		const log = memoryLog();
		openTestTransport({}, { open: () => e.session }, log);
		listenerFake.last.connect();
		const s = tcpFake.all[0]!;
		s.receive(bytes('sta'));
		s.receive(bytes('tus\nping\n'));
		assert.deepEqual(e.seen, ['status', 'ping']);
		assert.equal(s.text, '', 'nothing written before the socket said how much it takes');
		s.drain();
		assert.equal(s.text, 're:status\nre:ping\n');
		assert.ok(log.events().includes('testcmd.connected'));
	});

	it('never writes more than the socket takes (lin throws "would block" past it): the rest waits for the next onWritable', () => {
		const e = echoSession(40); // 40 replies of ~9 bytes per line: more than 1536
		openTestTransport({}, { open: () => e.session }, memoryLog());
		listenerFake.last.connect();
		const s = tcpFake.all[0]!;
		s.drain();
		s.receive(bytes('a-line-of-some-length-to-fill-the-buffer\n'));
		const first = s.written.reduce((n, b) => n + b.length, 0);
		assert.ok(first <= 1536, 'within one onWritable');
		for (let i = 0; i < 5; i++) s.drain();
		assert.equal(s.text, Array.from({ length: 40 }, () => 're:a-line-of-some-length-to-fill-the-buffer\n').join(''));
	});

	it('a new connection replaces the old one: the old socket closed, `closed` told, a fresh session for the new rig', () => {
		let sessions = 0;
		let closed = 0;
		const log = memoryLog();
		openTestTransport({}, { open: () => (sessions++, echoSession().session), closed: () => closed++ }, log);
		listenerFake.last.connect();
		listenerFake.last.connect();
		assert.equal(sessions, 2);
		assert.equal(closed, 1);
		assert.equal(tcpFake.all[0]!.isOpen, false);
		assert.equal(tcpFake.all[1]!.isOpen, true);
		assert.ok(
			log.lines.some((l) => l.event === 'testcmd.disconnected' && l.fields?.why === 'replaced by a new connection'),
			JSON.stringify(log.lines),
		);
	});

	it('the rig hanging up closes its socket and tells `closed` once', () => {
		let closed = 0;
		const log = memoryLog();
		openTestTransport({}, { open: () => echoSession().session, closed: () => closed++ }, log);
		listenerFake.last.connect();
		const s = tcpFake.all[0]!;
		s.receive(bytes('last\n'));
		s.hangUp();
		assert.equal(closed, 1);
		assert.equal(s.isOpen, false);
		s.hangUp();
		assert.equal(closed, 1);
		assert.ok(log.lines.some((l) => l.event === 'testcmd.disconnected' && l.fields?.why === 'closed by the rig'));
	});

	it("close() closes the rig's socket and the listener", () => {
		const t = openTestTransport({}, { open: () => echoSession().session }, memoryLog());
		listenerFake.last.connect();
		t.close();
		assert.equal(tcpFake.all[0]!.isOpen, false);
		assert.equal(listenerFake.last.isOpen, false);
	});
});
