/*
 * Topic names and filters [MQTT-4.7]. `+` matches one level, `#` the rest
 * (including the parent level itself), and wildcards never match a leading `$`
 * level [MQTT-4.7.2-1], so `#` does not see `$aws/...`.
 */

/** Why a filter is invalid, or undefined when it is valid. */
export function filterError(filter: string): string | undefined {
	if (typeof filter !== 'string' || filter.length === 0) return 'empty topic filter [MQTT-4.7.3-1]';
	if (filter.length > 65535) return 'topic filter longer than 65535';
	const levels = filter.split('/');
	for (let i = 0; i < levels.length; i++) {
		const l = levels[i]!;
		if (l.indexOf('#') >= 0 && (l !== '#' || i !== levels.length - 1)) return '"#" must be a whole last level [MQTT-4.7.1-2]';
		if (l.indexOf('+') >= 0 && l !== '+') return '"+" must be a whole level [MQTT-4.7.1-3]';
	}
	if (filter.indexOf('\u0000') >= 0) return 'U+0000 in topic filter [MQTT-4.7.3-2]';
	return undefined;
}

/** Why a topic name (for PUBLISH) is invalid, or undefined. */
export function topicError(topic: string): string | undefined {
	if (typeof topic !== 'string' || topic.length === 0) return 'empty topic name [MQTT-4.7.3-1]';
	if (topic.indexOf('+') >= 0 || topic.indexOf('#') >= 0) return 'wildcard in topic name [MQTT-3.3.2-2]';
	if (topic.indexOf('\u0000') >= 0) return 'U+0000 in topic name [MQTT-4.7.3-2]';
	return undefined;
}

/** True when `topic` (a valid name) matches `filter` (a valid filter). */
export function topicMatches(filter: string, topic: string): boolean {
	if (topic.charCodeAt(0) === 0x24 /* $ */ && (filter.charCodeAt(0) === 0x2b || filter.charCodeAt(0) === 0x23)) return false;
	let f = 0;
	let t = 0;
	for (;;) {
		const fe = filter.indexOf('/', f);
		const fl = filter.slice(f, fe < 0 ? filter.length : fe);
		if (fl === '#') return true;
		const te = topic.indexOf('/', t);
		const tl = topic.slice(t, te < 0 ? topic.length : te);
		if (fl !== '+' && fl !== tl) return false;
		if (fe < 0 || te < 0) {
			if (fe < 0 && te < 0) return true;
			// "a/#" matches "a": the rest of the filter is exactly "/#" [MQTT-4.7.1-2]
			return te < 0 && filter.slice(fe) === '/#';
		}
		f = fe + 1;
		t = te + 1;
	}
}
