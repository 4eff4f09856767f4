/*
 * The subset of the AWS IoT SQL (2016-03-23) the project's rules use, parsed into a small
 * query and evaluated over a JSON payload:
 *   SELECT <item>, ... FROM '<topic filter>'
 *   item := *  |  <field>[.<field>...] [AS <name>]  |  <function>(<args>) AS <name>
 *   functions: topic(), topic(n), clientid(), principal(), timestamp(), encode(*, 'base64')
 * `encode(*, 'base64')` is the raw payload in base64, whatever it holds: a rule made only of
 * it and functions runs over a payload that is not JSON too (AWS's way to take binary).
 * Anything else (WHERE, operators, other functions, nested queries) is refused with an error
 * naming what was found and where, so a rule never silently means something else locally.
 */

export type SqlFunction = 'topic' | 'clientid' | 'principal' | 'timestamp';

export type SelectItem =
	| { readonly kind: 'all' }
	| { readonly kind: 'field'; readonly path: readonly string[]; readonly name: string }
	| { readonly kind: 'call'; readonly fn: SqlFunction; readonly arg?: number; readonly name: string }
	| { readonly kind: 'encoded'; readonly name: string };

export interface Query {
	readonly select: readonly SelectItem[];
	/** The FROM topic filter, e.g. `robots/+/maps/upload-request`. */
	readonly from: string;
}

/** What a selected function sees of the message. */
export interface MessageContext {
	readonly topic: string;
	readonly clientId: string;
	readonly principal: string;
	/** Milliseconds since the epoch when the rules engine received the message. */
	readonly timestamp: number;
	/** The payload's bytes, for encode(*, 'base64'). */
	readonly raw: Uint8Array;
}

/** Whether the query reads the payload as JSON (`*` or a field); encode(*) and functions do not. */
export function readsJson(q: Query): boolean {
	return q.select.some((x) => x.kind === 'all' || x.kind === 'field');
}

export class SqlError extends Error {
	constructor(
		message: string,
		readonly at: number,
	) {
		super(`${message} (at character ${at + 1})`);
		this.name = 'SqlError';
	}
}

const FUNCTIONS: ReadonlySet<string> = Object.freeze(new Set(['topic', 'clientid', 'principal', 'timestamp']));

type Token =
	| { readonly t: 'word'; readonly v: string; readonly at: number }
	| { readonly t: 'string'; readonly v: string; readonly at: number }
	| { readonly t: 'number'; readonly v: number; readonly at: number }
	| { readonly t: 'punct'; readonly v: '*' | ',' | '(' | ')' | '.'; readonly at: number }
	| { readonly t: 'other'; readonly v: string; readonly at: number }
	| { readonly t: 'end'; readonly at: number };

export function parseSql(sql: string): Query {
	if (typeof sql !== 'string') throw new TypeError('"sql" expected a string, got ' + typeof sql);
	const tokens = tokenize(sql);
	let i = 0;
	const peek = (): Token => tokens[i]!;
	const take = (): Token => tokens[i++]!;
	const keyword = (word: string): boolean => {
		const t = peek();
		if (t.t === 'word' && t.v.toUpperCase() === word) return (i++, true);
		return false;
	};
	const expect = (word: string): void => {
		if (!keyword(word)) throw new SqlError(`expected ${word}, got ${describe(peek())}`, peek().at);
	};
	const punct = (v: string): boolean => {
		const t = peek();
		if (t.t === 'punct' && t.v === v) return (i++, true);
		return false;
	};

	expect('SELECT');
	const select: SelectItem[] = [];
	do select.push(item());
	while (punct(','));
	expect('FROM');
	const from = take();
	if (from.t !== 'string') throw new SqlError(`FROM expected a quoted topic filter such as 'robots/+/events', got ${describe(from)}`, from.at);
	checkFilter(from.v, from.at);
	const rest = peek();
	if (rest.t === 'word' && rest.v.toUpperCase() === 'WHERE') throw new SqlError('WHERE is not supported by the local rules engine', rest.at);
	if (rest.t !== 'end') throw new SqlError(`unexpected ${describe(rest)} after the FROM clause`, rest.at);
	return { select, from: from.v };

	function item(): SelectItem {
		if (punct('*')) return { kind: 'all' };
		const first = take();
		if (first.t !== 'word' || isReserved(first.v)) throw new SqlError(`expected *, a field or a function, got ${describe(first)}`, first.at);
		if (punct('(')) {
			const fn = first.v.toLowerCase();
			if (fn === 'encode') {
				const star = take();
				const comma = take();
				const enc = take();
				if (star.t !== 'punct' || star.v !== '*' || comma.t !== 'punct' || comma.v !== ',' || enc.t !== 'string' || enc.v !== 'base64' || !punct(')'))
					throw new SqlError("only encode(*, 'base64') is supported by the local rules engine", first.at);
				const name = alias();
				if (name === undefined) throw new SqlError("encode() needs a key: write encode(*, 'base64') AS <name>", first.at);
				return { kind: 'encoded', name };
			}
			if (!FUNCTIONS.has(fn)) throw new SqlError(`function ${first.v}() is not supported by the local rules engine (supported: topic, clientid, principal, timestamp)`, first.at);
			let arg: number | undefined;
			const a = peek();
			if (a.t === 'number') {
				i++;
				if (fn !== 'topic' || !Number.isInteger(a.v) || a.v < 1) throw new SqlError(`${fn}() takes no argument ${a.v}; only topic(n) with n >= 1 does`, a.at);
				arg = a.v;
			}
			if (!punct(')')) throw new SqlError(`expected ) after ${fn}(, got ${describe(peek())}`, peek().at);
			const name = alias();
			// AWS names an unaliased expression itself; we refuse to guess the key
			if (name === undefined) throw new SqlError(`${fn}() needs a key: write ${fn}() AS <name>`, first.at);
			return { kind: 'call', fn: fn as SqlFunction, ...(arg !== undefined ? { arg } : {}), name };
		}
		const path = [first.v];
		while (punct('.')) {
			const next = take();
			if (next.t !== 'word') throw new SqlError(`expected a field name after '.', got ${describe(next)}`, next.at);
			path.push(next.v);
		}
		return { kind: 'field', path, name: alias() ?? path[path.length - 1]! };
	}

	function alias(): string | undefined {
		if (!keyword('AS')) return undefined;
		const name = take();
		if (name.t !== 'word' || isReserved(name.v)) throw new SqlError(`AS expected a name, got ${describe(name)}`, name.at);
		return name.v;
	}
}

/**
 * The rule's output for one message: `*` copies the payload object, the other items add
 * keys in order (a later key replaces an earlier one, as in AWS).
 */
export function evaluate(q: Query, payload: unknown, m: MessageContext): Record<string, unknown> {
	const out: Record<string, unknown> = {};
	for (const item of q.select) {
		switch (item.kind) {
			case 'all':
				if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new TypeError('SELECT * expected a JSON object payload');
				Object.assign(out, payload);
				break;
			case 'field': {
				let v: unknown = payload;
				for (const k of item.path) v = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
				// AWS leaves out a key whose value is undefined
				if (v !== undefined) out[item.name] = v;
				break;
			}
			case 'call': {
				const v = call(item.fn, item.arg, m);
				if (v !== undefined) out[item.name] = v;
				break;
			}
			case 'encoded':
				out[item.name] = Buffer.from(m.raw).toString('base64');
				break;
			default:
				assertNever(item);
		}
	}
	return out;
}

function call(fn: SqlFunction, arg: number | undefined, m: MessageContext): unknown {
	switch (fn) {
		case 'topic':
			return arg === undefined ? m.topic : m.topic.split('/')[arg - 1];
		case 'clientid':
			return m.clientId;
		case 'principal':
			return m.principal;
		case 'timestamp':
			return m.timestamp;
		default:
			return assertNever(fn);
	}
}

/** An MQTT topic filter [MQTT-4.7.1]: `#` only last and alone in its level, `+` alone in its level. */
function checkFilter(filter: string, at: number): void {
	if (filter.length === 0) throw new SqlError('FROM expected a non-empty topic filter', at);
	const levels = filter.split('/');
	levels.forEach((level, n) => {
		if (level.includes('#') && (level !== '#' || n !== levels.length - 1)) throw new SqlError(`'#' must be a whole last level in '${filter}'`, at);
		if (level.includes('+') && level !== '+') throw new SqlError(`'+' must be a whole level in '${filter}'`, at);
	});
}

function tokenize(sql: string): Token[] {
	const out: Token[] = [];
	let i = 0;
	while (i < sql.length) {
		const c = sql[i]!;
		if (/\s/.test(c)) {
			i++;
		} else if (c === "'") {
			// '' inside a string is one quote
			let v = '';
			const at = i++;
			for (;;) {
				if (i >= sql.length) throw new SqlError('unterminated string', at);
				if (sql[i] === "'") {
					if (sql[i + 1] === "'") {
						v += "'";
						i += 2;
						continue;
					}
					i++;
					break;
				}
				v += sql[i++];
			}
			out.push({ t: 'string', v, at });
		} else if (/[A-Za-z_]/.test(c)) {
			const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i))!;
			out.push({ t: 'word', v: m[0], at: i });
			i += m[0].length;
		} else if (/[0-9]/.test(c)) {
			const m = /^[0-9]+(\.[0-9]+)?/.exec(sql.slice(i))!;
			out.push({ t: 'number', v: Number(m[0]), at: i });
			i += m[0].length;
		} else if ('*,().'.includes(c)) {
			out.push({ t: 'punct', v: c as '*' | ',' | '(' | ')' | '.', at: i++ });
		} else {
			// reported by the parser where it is met, so an earlier unsupported clause is named first
			out.push({ t: 'other', v: c, at: i++ });
		}
	}
	out.push({ t: 'end', at: sql.length });
	return out;
}

function isReserved(word: string): boolean {
	return ['SELECT', 'FROM', 'WHERE', 'AS'].includes(word.toUpperCase());
}

function describe(t: Token): string {
	switch (t.t) {
		case 'end':
			return 'the end of the statement';
		case 'string':
			return `'${t.v}'`;
		case 'other':
			return `unsupported character ${JSON.stringify(t.v)}`;
		default:
			return String(t.v);
	}
}

function assertNever(x: never): never {
	throw new Error('unexpected ' + JSON.stringify(x));
}
