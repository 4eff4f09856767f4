/*
 * AWS IoT names, the one copy of the rule: a thing name is 1-128 characters of
 * [a-zA-Z0-9:_-] ("AWS IoT Core endpoints and quotas", Thing name). It is also the
 * certificate's CN, the MQTT client id and a topic level, so it can never hold an MQTT
 * wildcard or a '/'. A named shadow's name is 1-64 of the same characters.
 * Firmware, cloud, local cloud and tools all check names with this module.
 */
import { pattern } from '../util/pattern';
/** The rule unanchored, for patterns that hold a thing name among other levels (policies' topics). */
export const THING_NAME_PATTERN = '[A-Za-z0-9:_-]{1,128}';
export const THING_NAME = pattern(() => new RegExp('^' + THING_NAME_PATTERN + '$'));
export const SHADOW_NAME = pattern(() => /^[A-Za-z0-9:_-]{1,64}$/);
/** The rule as error messages state it. */
export const THING_NAME_RULE = '1-128 of [A-Za-z0-9:_-]';
export const SHADOW_NAME_RULE = '1-64 of [A-Za-z0-9:_-]';

export function isThingName(x: unknown): x is string {
	return typeof x === 'string' && THING_NAME.test(x);
}

export function isShadowName(x: unknown): x is string {
	return typeof x === 'string' && SHADOW_NAME.test(x);
}

/** `x` when it is a thing name; a RangeError naming `field` otherwise (a programmer's or a configuration's error). */
export function checkThingName(x: unknown, field = 'thing'): string {
	if (!isThingName(x)) throw new RangeError('"' + field + '" expected ' + THING_NAME_RULE + ', got ' + JSON.stringify(x));
	return x;
}
