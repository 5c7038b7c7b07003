import os from 'node:os';
import { benchGraphStream } from './graph-stream.js';
import { benchInbox } from './store-inbox.js';
import { benchWebhook } from './webhook.js';

/** `npm run bench`: prints figures for the README. Not part of `npm test`. */
const lines = [
  `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  ...(await benchInbox()),
  ...(await benchGraphStream()),
  ...(await benchWebhook()),
];
process.stdout.write(`${lines.join('\n')}\n`);
