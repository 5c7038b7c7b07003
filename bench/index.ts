import os from 'node:os';
import { benchInbox } from './store-inbox.js';

/** `npm run bench`: prints figures for the README. Not part of `npm test`. */
const lines = [
  `machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  ...(await benchInbox()),
];
process.stdout.write(`${lines.join('\n')}\n`);
