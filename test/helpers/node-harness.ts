import { createNode, type SlipstreamNode } from '../../core/node/node.ts';
import { parseConfig } from '../../core/node/config.ts';
import { SlipstreamClient } from '../../core/client/index.ts';
import { silentLogger, type Clock, type Plugin } from '../../core/plugin-api/index.ts';
import { memoryStorage } from '../../plugins/storage-memory/index.ts';
import type { NodeExtension } from '../../core/node/extension.ts';

export interface TestNode {
  readonly node: SlipstreamNode;
  readonly client: SlipstreamClient;
  stop(): Promise<void>;
}

/** Starts a real node (real gRPC server on an ephemeral port) in this process, with a connected client. */
export async function startTestNode(options: {
  config?: Record<string, unknown>;
  clock?: Clock;
  plugins?: Plugin[];
  extensions?: NodeExtension[];
} = {}): Promise<TestNode> {
  const config = parseConfig({
    node: { id: 'A1', host: '127.0.0.1', port: 0 },
    namespaces: [{ name: 'test', storage: 'storage-memory' }],
    ...options.config,
  });
  const node = await createNode(config, {
    plugins: options.plugins ?? [memoryStorage()],
    logger: silentLogger,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.extensions === undefined ? {} : { extensions: options.extensions }),
  });
  const client = await SlipstreamClient.connect({ hosts: [`127.0.0.1:${node.port}`], timeoutMs: 10_000, connectTimeoutMs: 30_000 });
  return {
    node,
    client,
    async stop() {
      client.close();
      await node.stop();
    },
  };
}
