/*
 * MQTT topics a robot and the cloud both name, built in one place. AWS's reserved topics
 * (Device Shadow, Jobs) have their layout from the AWS IoT developer guide ("Reserved
 * topics"); ours live under `robots/<thing>/`. Commands, mission reports and logs keep
 * theirs beside their codecs (commands/command.ts, mission/report.ts, log/ship.ts).
 */

/** The Device Shadow topics' common prefix: classic shadow, or the named one. */
export function shadowTopicPrefix(thing: string, name?: string): string {
	return '$aws/things/' + thing + '/shadow' + (name !== undefined ? '/name/' + name : '');
}

/** The Jobs device API's prefix, with its trailing '/'. */
export function jobsTopicPrefix(thing: string): string {
	return '$aws/things/' + thing + '/jobs/';
}

/** Where a robot asks for a map upload slot (upload-slot.ts UploadRequest). */
export const mapUploadRequestTopic = (thing: string): string => 'robots/' + thing + '/maps/upload-request';
/** Where the cloud answers with the slot (UploadSlot) or why none (SlotError). */
export const mapUploadSlotTopic = (thing: string): string => 'robots/' + thing + '/maps/upload-slot';
/** The rule's filter over every robot's slot requests. */
export const MAP_UPLOAD_REQUEST_FILTER = 'robots/+/maps/upload-request';
