/*
 * The robot's name (its AWS IoT thing name) apart from its credentials (issue #19): the
 * schedule, the missions and their reports hang off the name, the link off the credentials.
 * A robot whose credentials went missing or bad keeps its name from the last identity it read,
 * so its stored schedule keeps running offline and the reports it writes meanwhile carry the
 * name the broker will accept them under once credentials are back. A board that never had an
 * identity and names none in its image has no name: nothing runs until provisioning.
 */
import type { StorageWrite, StoragePort } from '../../ports';
import { isThingName } from '../contracts/thing';
import { readRecord, writeRecord } from '../util/record';
import { utf8Decode, utf8Encode } from '../util/utf8';

/** The robot's storage key for the name of the last identity it read. */
export const NAME_KEY = 'thing';

export type NameSource = 'identity' | 'stored' | 'config';

/**
 * The name to run under: the identity's (the certificate CN) when there is one, else the one
 * stored from an earlier identity, else the image's configured one; undefined when none is.
 */
export function robotName(storage: StoragePort, identity: string | undefined, configured: string | undefined): { thing: string; source: NameSource } | undefined {
	if (identity) return { thing: identity, source: 'identity' };
	const raw = readRecord(storage, NAME_KEY);
	const stored = raw && utf8Decode(raw);
	if (stored && isThingName(stored)) return { thing: stored, source: 'stored' };
	if (configured && isThingName(configured)) return { thing: configured, source: 'config' };
	return undefined;
}

/** Keeps the identity's name for a boot without it; writes only when it changed. */
export function rememberName(storage: StoragePort, thing: string): StorageWrite | undefined {
	const raw = readRecord(storage, NAME_KEY);
	if (raw && utf8Decode(raw) === thing) return undefined;
	return writeRecord(storage, NAME_KEY, utf8Encode(thing));
}
