/*
 * The page's one DOM helper: an element from a tag, attributes and children. Text goes in
 * as text nodes, never as HTML, so what the cloud or a robot sends cannot become markup.
 */
export type Child = Node | string | number | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | ((e: Event) => void) | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs)) {
		if (v === undefined || v === false) continue;
		if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
		else if (v === true) el.setAttribute(k, '');
		else el.setAttribute(k, String(v));
	}
	for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'object' ? c : String(c));
	return el;
}

/** Replaces the children of `#id`. */
export function fill(id: string, ...children: Child[]): void {
	const el = document.getElementById(id);
	if (!el) throw new Error('the page has no #' + id);
	// no empty text nodes: an element with nothing to say stays `:empty` (CSS and tests rely on it)
	el.replaceChildren(...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false && c !== '').map((c) => (typeof c === 'object' ? c : String(c))));
}

export function ago(ms: number | null, now: number): string {
	if (ms === null) return 'never';
	const s = Math.max(0, Math.round((now - ms) / 1000));
	if (s < 60) return s + ' s ago';
	if (s < 3600) return Math.floor(s / 60) + ' min ago';
	return new Date(ms).toLocaleTimeString();
}

/** JSON for a person: a value that fits on a line stays on it, larger ones open up, indented. */
export function compactJson(x: unknown, indent = '', width = 72): string {
	const flat = JSON.stringify(x) ?? 'undefined';
	if (x === null || typeof x !== 'object' || flat.length <= width - indent.length) return flat;
	const inner = indent + '  ';
	if (Array.isArray(x)) return '[\n' + x.map((v) => inner + compactJson(v, inner, width)).join(',\n') + '\n' + indent + ']';
	return (
		'{\n' +
		Object.entries(x)
			.map(([k, v]) => inner + JSON.stringify(k) + ': ' + compactJson(v, inner, width))
			.join(',\n') +
		'\n' +
		indent +
		'}'
	);
}
