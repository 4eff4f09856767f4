// The per-thing authorization of the local broker, equivalent to the project's AWS IoT policy:
//   iot:Connect    client/${iot:Connection.Thing.ThingName}
//   iot:Publish    topic/$aws/things/${thing}/*, topic/robots/${thing}/*, topic/$aws/rules/*
//   iot:Subscribe  topicfilter/$aws/things/${thing}/*, topicfilter/robots/${thing}/*
//   iot:Receive    the same topics as Publish on things/robots
// where ${thing} is the certificate subject CN. Pure functions, so the table tests need no broker.
// An operator (the app backend or a test rig, connecting with its own certificate) has the
// fleet policy instead: the Device Shadow and Jobs topics of every thing, as an AWS IoT
// policy on topic/$aws/things/*/shadow/* and topic/$aws/things/*/jobs/* grants.

/** AWS IoT thing names: 1-128 characters of [a-zA-Z0-9:_-]; never an MQTT wildcard or '/'. */
const THING_NAME = /^[A-Za-z0-9:_-]{1,128}$/;

/** AWS IoT Basic Ingest: `$aws/rules/<rule name>/...`. */
const BASIC_INGEST = /^\$aws\/rules\/[^/]+(\/.*)?$/;

export function isThingName(name: string): boolean {
  return THING_NAME.test(name);
}

/** The client id must equal the thing name taken from the certificate. */
export function mayConnect(thing: string, clientId: string): boolean {
  return isThingName(thing) && clientId === thing;
}

export function mayPublish(thing: string, topic: string): boolean {
  if (!isThingName(thing)) return false;
  return underThing(thing, topic) || BASIC_INGEST.test(topic);
}

/**
 * A filter is allowed only below the thing's own level. Because the thing name is literal and
 * cannot hold a wildcard, any `+` or `#` in an allowed filter can match only the thing's own
 * topics; `robots/+/x` or `#` could match another thing's and are refused.
 */
export function maySubscribe(thing: string, filter: string): boolean {
  return isThingName(thing) && underThing(thing, filter);
}

function underThing(thing: string, topic: string): boolean {
  for (const prefix of [`$aws/things/${thing}/`, `robots/${thing}/`]) {
    if (topic.length > prefix.length && topic.startsWith(prefix)) return true;
  }
  return false;
}

/** Shadow and jobs topics of any thing (`+` for the thing in a filter); nothing else. */
const OPERATOR_TOPIC = /^\$aws\/things\/([A-Za-z0-9:_-]{1,128}|\+)\/(shadow|jobs)\/.+$/;

export function operatorMayPublish(topic: string): boolean {
  return OPERATOR_TOPIC.test(topic) && !topic.includes('+') && !topic.includes('#');
}

export function operatorMaySubscribe(filter: string): boolean {
  return OPERATOR_TOPIC.test(filter);
}
