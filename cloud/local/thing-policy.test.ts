import assert from 'node:assert/strict';
import { mayConnect, mayPublish, maySubscribe, operatorMayPublish, operatorMaySubscribe } from './thing-policy';

describe('thing policy', () => {
  const connect: [string, string, boolean][] = [
    ['robot-1', 'robot-1', true],
    ['robot-1', 'robot-2', false],
    ['robot-1', '', false],
    ['robot+1', 'robot+1', false],
  ];
  for (const [thing, clientId, ok] of connect) {
    it(`connect ${thing} as ${JSON.stringify(clientId)} -> ${ok}`, () => assert.equal(mayConnect(thing, clientId), ok));
  }

  const publish: [string, boolean][] = [
    ['robots/robot-1/missions/m1/events', true],
    ['$aws/things/robot-1/shadow/name/schedule/update', true],
    ['$aws/rules/mission_report/robots/robot-1/missions/m1/report', true],
    ['$aws/rules/x', true],
    ['$aws/rules/', false],
    ['robots/robot-2/missions/m1/events', false],
    ['$aws/things/robot-2/shadow/update', false],
    ['robots/robot-1', false],
    ['robots/robot-10/x', false],
    ['other', false],
  ];
  for (const [topic, ok] of publish) {
    it(`robot-1 publish ${topic} -> ${ok}`, () => assert.equal(mayPublish('robot-1', topic), ok));
  }

  const subscribe: [string, boolean][] = [
    ['robots/robot-1/maps/upload-slot', true],
    ['robots/robot-1/#', true],
    ['$aws/things/robot-1/shadow/name/schedule/+/accepted', true],
    ['$aws/things/robot-1/jobs/notify-next', true],
    ['robots/+/maps/upload-slot', false],
    ['robots/robot-2/#', false],
    ['#', false],
    ['+/robot-1/#', false],
    ['$aws/things/+/shadow/update', false],
    ['$aws/rules/x', false],
  ];
  for (const [filter, ok] of subscribe) {
    it(`robot-1 subscribe ${filter} -> ${ok}`, () => assert.equal(maySubscribe('robot-1', filter), ok));
  }

  const operator: [string, boolean, boolean][] = [
    ['$aws/things/robot-1/shadow/name/schedule/update', true, true],
    ['$aws/things/robot-2/jobs/job-1/get', true, true],
    ['$aws/things/+/shadow/name/schedule/update/accepted', false, true],
    ['$aws/things/robot-1/shadow/#', false, true],
    ['$aws/things/robot-1/other/x', false, false],
    ['robots/robot-1/missions/m1/events', false, false],
    ['$aws/rules/mission_report/robots/robot-1/missions/m1/report', false, false],
    ['#', false, false],
  ];
  for (const [topic, pub, sub] of operator) {
    it(`operator publish ${topic} -> ${pub}, subscribe -> ${sub}`, () => {
      assert.equal(operatorMayPublish(topic), pub);
      assert.equal(operatorMaySubscribe(topic), sub);
    });
  }
});
