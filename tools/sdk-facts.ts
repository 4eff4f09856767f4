/*
 * Run the SDK facts app (firmware/platform/moddable/test/sdk-facts: main.ts, facts.ts) on the real runtime: lin under mcsim, through
 * the project's headless runner (test/device/headless.ts), with a local TLS server (a fresh
 * throwaway CA and an RSA server certificate for "localhost"; the CA's DER goes to the app as config.tlsCa) and
 * a local HTTP server. Needs MODDABLE (SDK 8.2.3); without it, it fails with the install pointer.
 *
 *   npx tsx tools/sdk-facts.ts [--if-sdk]      (DEVICE_WORK_DIR: build dir, default build/sdk-facts)
 *
 * npm test runs it after the device suite (npm run test:sdk-facts -- --if-sdk).
 *
 * The same facts run over the fakes in npm run test:xs (firmware/platform/moddable/test/sdk-facts.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type AddressInfo } from 'node:net';
import { INSTALL_POINTER, runHeadless, sdkProblem } from '../test/device/headless';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = join(root, 'firmware/platform/moddable/test/sdk-facts');

async function main(): Promise<number> {
	const problem = sdkProblem();
	if (problem) {
		// npm test passes --if-sdk, as for the device suite: one loud line, not a failure, on a machine without the SDK
		if (process.argv.includes('--if-sdk')) {
			console.log('\n*** SDK FACTS NOT CHECKED: ' + problem + ': the SDK fakes of npm run test:xs were NOT compared with the real Moddable runtime on this machine ***\n');
			return 0;
		}
		console.log('sdk-facts cannot run: ' + problem + ': ' + INSTALL_POINTER);
		return 1;
	}
	const dir = mkdtempSync(join(tmpdir(), 'sdk-facts-'));
	try {
		// a CA and a server certificate it signs (SAN localhost and 127.0.0.1, SKI/AKI): what the SDK's chain check walks
		const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
		ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2', '-subj', '/CN=sdk-facts CA', '-keyout', 'ca-key.pem', '-out', 'ca.pem']);
		ssl(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=localhost', '-keyout', 'key.pem', '-out', 'server.csr']);
		writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
		ssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-sha256', '-days', '2', '-extfile', 'server.ext', '-out', 'cert.pem']);
		ssl(['x509', '-in', 'ca.pem', '-outform', 'DER', '-out', 'ca.der']);
		await new Promise((r) => setTimeout(r, 1100)); // the client wants notBefore strictly in the past
		const pattern = Buffer.from(Array.from({ length: 3000 }, (_, i) => i & 0xff));
		// the chain, leaf then CA: the SDK checks the SAN only on certificates before the last one it
		// gets (ssl_cert.js verify: `length = certs.length - 1`), so a leaf sent alone always fails
		// "subjectAltName match failed" (seen on 8.2.3)
		const chain = Buffer.concat([readFileSync(join(dir, 'cert.pem')), readFileSync(join(dir, 'ca.pem'))]);
		const tls = createTlsServer({ key: readFileSync(join(dir, 'key.pem')), cert: chain }, (s) => {
			s.write(pattern);
			s.on('data', (d) => {
				if (d.toString().includes('close-me')) s.end();
			});
			s.on('error', () => {});
		});
		const http = createHttpServer((req, res) => {
			if (req.url === '/drop') return req.socket.destroy();
			if (req.url === '/echo') {
				let n = 0;
				req.on('data', (d: Buffer) => (n += d.length));
				req.on('end', () => res.end(String(n)));
				return;
			}
			res.setHeader('X-Fact', 'a');
			res.setHeader('Content-Length', '5000');
			res.end(Buffer.alloc(5000, 0x61));
		});
		await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
		await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
		const out = resolve(root, process.env.DEVICE_WORK_DIR ?? 'build/sdk-facts');
		mkdirSync(out, { recursive: true });
		const ca = readFileSync(join(dir, 'ca.der')).toString('hex');
		// the app's ECMA-419 listener: connect when it says where, read its hello, send one line, hang up
		const onLine = (line: string) => {
			const m = /^listening (\d+)$/.exec(line.trim());
			if (!m) return;
			const c = connect(Number(m[1]), '127.0.0.1');
			c.on('data', (d) => {
				if (d.toString().includes('hello')) c.end('ping\n');
			});
			c.on('error', (e) => console.log('sdk-facts: listener probe: ' + e.message));
		};
		const r = await runHeadless({
			app,
			out,
			timeoutS: 90,
			onLine,
			defines: ['tlsPort=' + (tls.address() as AddressInfo).port, 'httpPort=' + (http.address() as AddressInfo).port, 'tlsCa=' + ca],
		});
		tls.close();
		http.close();
		return r.code;
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
}

process.exitCode = await main();
