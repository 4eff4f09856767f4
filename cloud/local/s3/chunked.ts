/*
 * Decoder for the `aws-chunked` content encoding, which the AWS SDKs use for
 * streaming uploads with a trailing checksum (x-amz-content-sha256:
 * STREAMING-UNSIGNED-PAYLOAD-TRAILER):
 *   <hex size>[;chunk-signature=...]\r\n<bytes>\r\n ... 0\r\n<name>:<value>\r\n...\r\n
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
import { Transform, type TransformCallback } from 'node:stream';
import { HttpError } from '../http';

/** A size line or trailer line longer than this is not aws-chunked. */
const MAX_LINE = 4096;

type State = { at: 'size' } | { at: 'data'; left: number } | { at: 'data-end' } | { at: 'trailer' } | { at: 'done' };

/** Emits the decoded bytes; `trailers` holds the trailing headers once the stream ended. */
export class AwsChunkedDecoder extends Transform {
	readonly trailers = new Map<string, string>();
	#state: State = { at: 'size' };
	#line = '';

	override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
		try {
			this.#feed(chunk);
			done();
		} catch (e) {
			done(e as Error);
		}
	}

	override _flush(done: TransformCallback): void {
		done(this.#state.at === 'done' ? null : new HttpError(400, 'IncompleteBody', 'the aws-chunked body ended early'));
	}

	#feed(chunk: Buffer): void {
		let i = 0;
		while (i < chunk.length) {
			const s = this.#state;
			if (s.at === 'data') {
				const n = Math.min(s.left, chunk.length - i);
				this.push(chunk.subarray(i, i + n));
				i += n;
				this.#state = s.left === n ? { at: 'data-end' } : { at: 'data', left: s.left - n };
				continue;
			}
			if (s.at === 'done') throw new HttpError(400, 'InvalidRequest', 'bytes after the end of the aws-chunked body');
			// the other states read one CRLF-terminated line
			const nl = chunk.indexOf(10, i);
			const end = nl < 0 ? chunk.length : nl + 1;
			this.#line += chunk.toString('latin1', i, end);
			i = end;
			if (this.#line.length > MAX_LINE) throw new HttpError(400, 'InvalidRequest', 'aws-chunked line too long');
			if (nl < 0) continue;
			const line = this.#line.replace(/\r?\n$/, '');
			this.#line = '';
			this.#onLine(line);
		}
	}

	#onLine(line: string): void {
		const s = this.#state;
		if (s.at === 'data-end') {
			if (line !== '') throw new HttpError(400, 'InvalidRequest', 'aws-chunked data not followed by CRLF');
			this.#state = { at: 'size' };
		} else if (s.at === 'size') {
			const m = /^([0-9a-fA-F]+)(;.*)?$/.exec(line);
			if (!m) throw new HttpError(400, 'InvalidRequest', 'bad aws-chunked size line');
			const size = parseInt(m[1]!, 16);
			this.#state = size === 0 ? { at: 'trailer' } : { at: 'data', left: size };
		} else if (s.at === 'trailer') {
			if (line === '') {
				this.#state = { at: 'done' };
				return;
			}
			const colon = line.indexOf(':');
			if (colon < 0) throw new HttpError(400, 'InvalidRequest', 'bad aws-chunked trailer');
			this.trailers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
		}
	}
}
