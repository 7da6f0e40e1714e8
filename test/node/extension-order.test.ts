/** The node's extensions start dependencies first, in the given order otherwise; bad dependencies are clear errors. */
import { strict as assert } from 'node:assert';
import { DbError } from '../../core/errors/index.ts';
import { orderExtensions } from '../../core/node/extension-order.ts';
import { builtInExtensions } from '../../core/node/extensions.ts';
import { storageMaintenanceExtension } from '../../core/node/extensions/storage-maintenance.ts';
import type { NodeExtension } from '../../core/node/extension.ts';

const ext = (name: string, dependsOn?: string[]): NodeExtension => ({ name, ...(dependsOn === undefined ? {} : { dependsOn }), async start() {} });
const names = (list: readonly NodeExtension[]): string[] => list.map((e) => e.name);

describe('node extensions: start order', () => {
  it('keeps the given order when nothing depends on anything', () => {
    assert.deepEqual(names(orderExtensions([ext('a'), ext('b'), ext('c')])), ['a', 'b', 'c']);
  });

  it('starts dependencies first, wherever they are in the list', () => {
    assert.deepEqual(names(orderExtensions([ext('aql', ['query']), ext('query', ['storage']), ext('udf'), ext('storage')])), ['storage', 'query', 'aql', 'udf']);
  });

  it('orders the built-in extensions with storage maintenance before the query subsystem', () => {
    const order = names(orderExtensions([...builtInExtensions(), storageMaintenanceExtension()]));
    assert.ok(order.indexOf('storage-maintenance') < order.indexOf('query'), order.join(', '));
  });

  it('refuses a dependency the node does not start, a name given twice, and a cycle', () => {
    assert.throws(() => orderExtensions([ext('udf', ['query'])]), (e: unknown) => e instanceof DbError && /extension 'udf' depends on 'query', which this node does not start/.test(e.message));
    assert.throws(() => orderExtensions([ext('a'), ext('a')]), (e: unknown) => e instanceof DbError && /two extensions named 'a'/.test(e.message));
    assert.throws(() => orderExtensions([ext('a', ['b']), ext('b', ['c']), ext('c', ['a'])]), (e: unknown) => e instanceof DbError && e.message.endsWith('cycle: a → b → c → a'));
  });
});
